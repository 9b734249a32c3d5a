//! The fetch engine: requests in flight on the async runtime, bodies stored by a pool of
//! threads, the number in flight adapted to the link, and memory bounded by bytes.

use super::*;
use std::sync::Condvar;

/// What fetched bodies may hold in memory together, all requests in flight counted.
pub(super) const BODY_MEMORY: u64 = 16 << 20;

/// A stored object's result, sent from the storing threads to the fetching loop.
pub(super) type Stored = Result<Vec<Item>>;

/// Fetches the trees below `roots` and what they lead to, storing on `threads` threads.
#[allow(clippy::too_many_arguments)]
pub(super) fn fetch_objects(
    runtime: &tokio::runtime::Runtime,
    object_fetcher: &Arc<Fetcher>,
    tx: &Transaction<'_>,
    roots: Vec<Item>,
    progress: &dyn Progress,
    options: &PullOptions,
    stats: &Stats,
    interrupt: &AtomicBool,
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // `None`: the object is in a local cache repository.
    // Bodies wait in memory up to the budget, and in unnamed files of `tmp/` past it.
    let spill = Spill {
        dir: Arc::new(tx.repo().dir().open_dir("tmp").map_err(|e| Error::Io {
            path: tx.repo().path().join("tmp").display().to_string(),
            source: e,
        })?),
        budget: MemoryBudget::new(BODY_MEMORY),
    };
    let work = Arc::new(WorkQueue::default());
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Stored>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work = &work;
            scope.spawn(move || {
                while let Some((item, data)) = work.pop() {
                    let is_file = matches!(item, Item::File(_));
                    let stored = match data {
                        Some(body) => {
                            let len = body.len();
                            store(tx, item, body, options).map(|children| {
                                stats.count(is_file, false);
                                (children, len)
                            })
                        }
                        None => import_cached(tx, item, options).inspect(|_| {
                            stats.count(is_file, true);
                        }),
                    };
                    let result = stored.map(|(children, bytes)| {
                        progress.event(Event::ObjectFetched {
                            bytes,
                            metadata: !matches!(item, Item::File(_)),
                        });
                        children
                    });
                    if done_tx.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        let result = runtime.block_on(drive(
            object_fetcher,
            &spill,
            roots,
            &work,
            done_tx,
            &mut done_rx,
            progress,
            options,
            interrupt,
        ));
        // The storing threads finish what is queued, then end.
        work.close();
        result
    })
}

/// Fetched objects waiting for a storing thread. Trees and their metadata go first: storing
/// a tree is what queues the requests below it, and behind a queue of file bodies the
/// fetching would run dry while the trees waited.
#[derive(Default)]
pub(super) struct WorkQueue {
    state: Mutex<WorkState>,
    ready: Condvar,
}

#[derive(Default)]
struct WorkState {
    metadata: VecDeque<(Item, Option<Body>)>,
    files: VecDeque<(Item, Option<Body>)>,
    closed: bool,
}

impl WorkQueue {
    /// Queues an object; false once the queue is closed (the pull is over).
    fn push(&self, item: Item, body: Option<Body>) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.closed {
            return false;
        }
        match item {
            Item::File(_) => state.files.push_back((item, body)),
            Item::DirTree(..) | Item::DirMeta(_) => state.metadata.push_back((item, body)),
        }
        self.ready.notify_one();
        true
    }

    /// The next object to store, waiting for one; `None` once closed and drained.
    fn pop(&self) -> Option<(Item, Option<Body>)> {
        let mut state = self.state.lock().ok()?;
        loop {
            if let Some(next) = state
                .metadata
                .pop_front()
                .or_else(|| state.files.pop_front())
            {
                return Some(next);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).ok()?;
        }
    }

    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.ready.notify_all();
    }
}

/// How many objects may be fetched or stored at once. Adaptive: starting at 48, each round
/// (as many completions as the limit) measures the rate; a round faster than the one before
/// raises the limit by half, a clearly slower one lowers it by a quarter. On a short link
/// the rate stops growing early (the CPU is the limit); on a long round trip it keeps
/// growing with the limit, up to 256, where upstream stays at 8.
pub(super) struct Limit {
    current: usize,
    adaptive: bool,
    round_start: std::time::Instant,
    done_in_round: usize,
    last_rate: f64,
}

impl Limit {
    const START: usize = 48;
    const MIN: usize = 8;
    const MAX: usize = 256;

    fn new(fixed: Option<usize>) -> Limit {
        Limit {
            current: fixed.unwrap_or(Self::START).max(1),
            adaptive: fixed.is_none(),
            round_start: std::time::Instant::now(),
            done_in_round: 0,
            last_rate: 0.0,
        }
    }

    fn completed(&mut self) {
        if !self.adaptive {
            return;
        }
        self.done_in_round += 1;
        if self.done_in_round < self.current {
            return;
        }
        let elapsed = self.round_start.elapsed().as_secs_f64().max(1e-6);
        let rate = self.done_in_round as f64 / elapsed;
        if rate > self.last_rate * 1.1 {
            self.current = (self.current + self.current / 2).min(Self::MAX);
        } else if rate < self.last_rate * 0.7 {
            self.current = (self.current - self.current / 4).max(Self::MIN);
        }
        self.last_rate = rate;
        self.done_in_round = 0;
        self.round_start = std::time::Instant::now();
    }
}

/// Keeps up to `options.concurrency` objects fetching or storing, queueing what each stored
/// object leads to, until none is left.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drive(
    object_fetcher: &Arc<Fetcher>,
    spill: &Spill,
    roots: Vec<Item>,
    work: &Arc<WorkQueue>,
    done_tx: tokio::sync::mpsc::UnboundedSender<Stored>,
    done_rx: &mut tokio::sync::mpsc::UnboundedReceiver<Stored>,
    progress: &dyn Progress,
    options: &PullOptions,
    interrupt: &AtomicBool,
) -> Result<()> {
    // By object: a tree met at two depths (an empty directory, say) is fetched once.
    let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
    let mut pending = Pending::default();
    for item in roots {
        if seen.insert(item.name()) {
            pending.push_back(item);
        }
    }
    progress.event(Event::ObjectsQueued(pending.len() as u64));
    let mut in_flight = 0usize;
    let mut limit = Limit::new(options.concurrency);
    let mut tasks = tokio::task::JoinSet::new();
    // The pull fails with the first error. A bad or missing object does not stop the
    // others, so that a second pull has only it left to fetch; any other failure (the
    // server gone, an interrupt) stops new requests, and what is in flight still lands.
    let mut failure: Option<Error> = None;
    let mut stop = false;
    loop {
        if !stop && interrupt.load(Ordering::Relaxed) {
            failure.get_or_insert(Error::Cancelled);
            stop = true;
        }
        while !stop
            && in_flight < limit.current
            && let Some(item) = pending.pop_front()
        {
            in_flight += 1;
            let (objtype, checksum) = item.name();
            let mut cached = false;
            for cache in &options.localcache {
                cached |= cache.has_object(objtype, &checksum)?;
            }
            if cached {
                if !work.push(item, None) {
                    return Err(Error::Cancelled);
                }
                continue;
            }
            // Every object comes from `contenturl` when there is one; only the summary,
            // refs and signatures come from `url`, as upstream splits them.
            let fetcher = Arc::clone(object_fetcher);
            let spill = spill.clone();
            let work = Arc::clone(work);
            let done_tx = done_tx.clone();
            tasks.spawn(async move {
                let (objtype, checksum) = item.name();
                let outcome = match fetcher
                    .get_object(&object_path(objtype, &checksum), &spill)
                    .await
                {
                    Ok(Some(data)) => {
                        // Stored by the thread pool, which reports back on `done_tx`.
                        if work.push(item, Some(data)) {
                            return;
                        }
                        Err(Error::Cancelled)
                    }
                    Ok(None) => Err(Error::MissingObject { objtype, checksum }),
                    Err(e) => Err(e),
                };
                let _ = done_tx.send(outcome);
            });
        }
        if in_flight == 0 {
            return failure.map_or(Ok(()), Err);
        }
        let Some(result) = done_rx.recv().await else {
            return Err(failure.unwrap_or(Error::Cancelled));
        };
        in_flight -= 1;
        limit.completed();
        // Finished fetch tasks are reaped as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
        match result {
            Ok(children) => {
                let before = pending.len();
                for child in children {
                    if seen.insert(child.name()) {
                        pending.push_back(child);
                    }
                }
                if pending.len() > before {
                    progress.event(Event::ObjectsQueued((pending.len() - before) as u64));
                }
            }
            Err(e) => {
                stop |= !matches!(
                    e,
                    Error::Corrupt { .. }
                        | Error::ChecksumMismatch { .. }
                        | Error::MissingObject { .. }
                );
                failure.get_or_insert(e);
            }
        }
    }
}

/// Objects waiting to be fetched: trees before the rest, since only a tree leads to more
/// work. Over a long round trip a tree queued behind thousands of files would hold back
/// the discovery of everything under it and leave the end of the pull with little in
/// flight.
#[derive(Default)]
struct Pending {
    trees: VecDeque<Item>,
    rest: VecDeque<Item>,
}

impl Pending {
    fn push_back(&mut self, item: Item) {
        match item {
            Item::DirTree(..) => self.trees.push_back(item),
            Item::DirMeta(_) | Item::File(_) => self.rest.push_back(item),
        }
    }

    fn pop_front(&mut self) -> Option<Item> {
        self.trees.pop_front().or_else(|| self.rest.pop_front())
    }

    fn len(&self) -> usize {
        self.trees.len() + self.rest.len()
    }
}
