//! Drawing library progress events: a spinner with counts on a terminal, nothing otherwise
//! (upstream prints nothing either, and scripts read stdout).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use rostree::repo::progress::{Event, Progress};

/// Renders the counts of a long operation (commit, checkout, export, prune, pull-local,
/// static deltas) on stderr when it is a terminal: a spinner with what is done so far.
pub struct CountProgress {
    bar: Option<ProgressBar>,
    /// JSON Lines on stdout instead of a spinner (`--json`).
    json: Option<JsonLines>,
    /// Things done: files, objects or parts.
    done: AtomicU64,
    /// Of those, the notable ones: new files, linked files, or objects in parts.
    notable: AtomicU64,
    /// Objects known to be needed (pull-local).
    queued: AtomicU64,
    bytes: AtomicU64,
}

impl CountProgress {
    /// A renderer; silent unless stderr is a terminal.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        CountProgress {
            bar,
            json: None,
            done: AtomicU64::new(0),
            notable: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// A renderer of JSON Lines on stdout: a `phase` line as each phase begins, a
    /// `progress` line with the counts at most every `interval`; the command prints its own
    /// `done` line (see [`CountProgress::json_done`]).
    pub fn json(interval: std::time::Duration) -> Self {
        let start = std::time::Instant::now();
        CountProgress {
            bar: None,
            json: Some(JsonLines {
                start,
                interval,
                last: std::sync::Mutex::new(start),
            }),
            done: AtomicU64::new(0),
            notable: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// One JSON line of `kind` with the counts so far and `extra` fields.
    fn json_line(&self, json: &JsonLines, kind: &str, extra: &[Field]) {
        let line = format!(
            "{{\"event\":\"{kind}\",\"done\":{},\"notable\":{},\"bytes\":{},\"elapsed_ms\":{}{}}}\n",
            self.done.load(Ordering::Relaxed),
            self.notable.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            json.start.elapsed().as_millis(),
            fields_text(extra),
        );
        let _ = crate::util::write_stdout(line.as_bytes());
    }

    /// The last JSON line, `done`, with the command's own fields; nothing without `--json`.
    pub fn json_done(&self, extra: &[Field]) {
        if let Some(json) = &self.json {
            self.json_line(json, "done", extra);
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Counts one thing done; the new totals (done, notable, bytes).
    fn count(&self, notable: u64, bytes: u64) -> (u64, u64, indicatif::HumanBytes) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let notable = self.notable.fetch_add(notable, Ordering::Relaxed) + notable;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        (done, notable, indicatif::HumanBytes(bytes))
    }
}

impl Drop for CountProgress {
    fn drop(&mut self) {
        // Also when the operation failed: its error goes on a line of its own.
        self.finish();
    }
}

/// Prints a warning on its own line (above the bar, when one is drawn), always.
fn warn(bar: Option<&indicatif::ProgressBar>, text: &str) {
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("warning: {text}")),
        None => eprintln!("warning: {text}"),
    }
}

/// When JSON lines go out, and when the last one did.
struct JsonLines {
    start: std::time::Instant,
    interval: std::time::Duration,
    last: std::sync::Mutex<std::time::Instant>,
}

impl Progress for CountProgress {
    fn event(&self, event: Event) {
        if let Event::Warning(text) = &event {
            return warn(self.bar.as_ref(), text);
        }
        if let Some(json) = &self.json {
            return self.json_event(json, event);
        }
        let Some(bar) = &self.bar else { return };
        // Files and objects come by the thousand: the message is redrawn every 64th.
        let message = match event {
            Event::Phase(name) => Some(name.to_owned()),
            Event::FileCommitted { bytes, written } => {
                let (files, new, bytes) = self.count(u64::from(written), bytes);
                files
                    .is_multiple_of(64)
                    .then(|| format!("{files} files ({new} new), {bytes}"))
            }
            Event::FileCheckedOut { linked } => {
                let (files, linked, _) = self.count(u64::from(linked), 0);
                files
                    .is_multiple_of(64)
                    .then(|| format!("{files} files checked out ({linked} linked)"))
            }
            Event::FileExported { bytes } => {
                let (files, _, bytes) = self.count(0, bytes);
                files
                    .is_multiple_of(64)
                    .then(|| format!("{files} files exported, {bytes}"))
            }
            Event::ObjectPruned { bytes } => {
                let (objects, _, bytes) = self.count(0, bytes);
                objects
                    .is_multiple_of(64)
                    .then(|| format!("{objects} objects deleted, {bytes} freed"))
            }
            Event::ObjectsQueued(n) => {
                self.queued.fetch_add(n, Ordering::Relaxed);
                None
            }
            Event::ObjectFetched { bytes, .. } => {
                let (objects, _, bytes) = self.count(0, bytes);
                let queued = self.queued.load(Ordering::Relaxed);
                objects
                    .is_multiple_of(64)
                    .then(|| format!("{objects}/{queued} objects, {bytes} copied"))
            }
            Event::DeltaPart { objects, bytes } => {
                let (parts, objects, bytes) = self.count(objects, bytes);
                Some(format!("{parts} delta parts ({objects} objects, {bytes})"))
            }
            _ => None,
        };
        if let Some(message) = message {
            bar.set_message(message);
        }
    }
}

impl CountProgress {
    /// Counts an event and prints what `--json` asks for.
    fn json_event(&self, json: &JsonLines, event: Event) {
        match event {
            Event::Phase(name) => {
                return self.json_line(json, "phase", &[("phase", name.into())]);
            }
            Event::FileCommitted { bytes, written } => {
                self.count(u64::from(written), bytes);
            }
            Event::FileCheckedOut { linked } => {
                self.count(u64::from(linked), 0);
            }
            Event::FileExported { bytes }
            | Event::ObjectPruned { bytes }
            | Event::ObjectFetched { bytes, .. } => {
                self.count(0, bytes);
            }
            Event::DeltaPart { objects, bytes } => {
                self.count(objects, bytes);
            }
            Event::ObjectsQueued(n) => {
                self.queued.fetch_add(n, Ordering::Relaxed);
                return;
            }
            _ => return,
        }
        if let Ok(mut last) = json.last.lock()
            && last.elapsed() >= json.interval
        {
            *last = std::time::Instant::now();
            self.json_line(json, "progress", &[]);
        }
    }
}

/// A field of a JSON progress line: a name of our own (no escaping needed) and a value.
pub type Field = (&'static str, serde_json::Value);

/// `,"name":value` for each field, after the line's fixed fields (`event` stays first, which
/// readers of the lines rely on).
fn fields_text(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!(",\"{name}\":{value}"))
        .collect()
}

/// An interrupt flag that SIGINT and SIGTERM set, so long operations stop cleanly.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Without the handler the default action still stops the process; only the clean
        // unwinding of the transaction is lost, so a failure here is not fatal.
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

/// Renders pull progress: a bar on a terminal (objects fetched of those known so far, bytes,
/// rate, ETA), JSON Lines on stdout with `--json`, nothing otherwise. The total only grows
/// (trees reveal more objects as they arrive) and the counts only go up.
pub struct PullProgress {
    bar: Option<ProgressBar>,
    json: bool,
    interval: std::time::Duration,
    start: std::time::Instant,
    last_json: std::sync::Mutex<std::time::Instant>,
    queued: AtomicU64,
    fetched: AtomicU64,
    bytes: AtomicU64,
}

impl PullProgress {
    /// A renderer: JSON Lines (at most one `progress` line per `interval`) when `json`,
    /// else a bar when stderr is a terminal.
    pub fn new(json: bool, interval: std::time::Duration) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>16} [{bar:30}] {pos}/{len} objects, {prefix} ({elapsed}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        let start = std::time::Instant::now();
        PullProgress {
            bar,
            json,
            interval,
            start,
            last_json: std::sync::Mutex::new(start),
            queued: AtomicU64::new(0),
            fetched: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Prints one JSON line of `kind` with the counts so far and `extra` fields.
    fn json_line(&self, kind: &str, extra: &[Field]) {
        let line = format!(
            "{{\"event\":\"{kind}\",\"fetched\":{},\"total\":{},\"bytes\":{},\"elapsed_ms\":{}{}}}\n",
            self.fetched.load(Ordering::Relaxed),
            self.queued.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.start.elapsed().as_millis(),
            fields_text(extra),
        );
        let _ = crate::util::write_stdout(line.as_bytes());
    }

    /// Clears the bar of a pull that failed (its error is reported on its own).
    pub fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// The last line: what the pull did (fetched, and taken from local cache repositories).
    pub fn finish(&self, outcome: &rostree::pull::pull::PullOutcome) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.json {
            self.json_line(
                "done",
                &[
                    ("metadata", outcome.metadata_fetched.into()),
                    ("content", outcome.content_fetched.into()),
                    ("metadata_local", outcome.metadata_local.into()),
                    ("content_local", outcome.content_local.into()),
                ],
            );
        }
    }
}

impl Progress for PullProgress {
    fn event(&self, event: Event) {
        match event {
            Event::Warning(text) => warn(self.bar.as_ref(), &text),
            Event::Phase(name) => {
                if let Some(bar) = &self.bar {
                    bar.set_message(name);
                }
                if self.json {
                    self.json_line("phase", &[("phase", name.into())]);
                }
            }
            Event::ObjectsQueued(n) => {
                let total = self.queued.fetch_add(n, Ordering::Relaxed) + n;
                if let Some(bar) = &self.bar {
                    bar.set_length(total);
                }
            }
            Event::ObjectFetched { bytes, .. } => {
                self.fetched.fetch_add(1, Ordering::Relaxed);
                let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    bar.set_prefix(indicatif::HumanBytes(total).to_string());
                }
                if self.json
                    && let Ok(mut last) = self.last_json.lock()
                    && last.elapsed() >= self.interval
                {
                    *last = std::time::Instant::now();
                    self.json_line("progress", &[]);
                }
            }
            _ => {}
        }
    }
}
