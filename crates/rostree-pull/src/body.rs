//! Where fetched bodies wait to be stored: in memory while they are small and the pull's
//! memory budget allows, else in an unnamed file in the repository's `tmp/`. A pull's
//! memory is then bounded by the budget, whatever the sizes of the objects or how many
//! are in flight.

use std::io::{Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Bodies larger than this go to a file from their first byte.
pub const SPILL_AT: u64 = 1 << 20;

/// Bytes that bodies held in memory may take together.
#[derive(Debug)]
pub struct MemoryBudget {
    left: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            left: AtomicU64::new(bytes),
        })
    }

    fn try_take(&self, bytes: u64) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    fn give(&self, bytes: u64) {
        self.left.fetch_add(bytes, Ordering::AcqRel);
    }
}

/// Where a request may put a body that does not fit in memory.
#[derive(Clone)]
pub struct Spill {
    /// The directory for unnamed files (the repository's `tmp/`).
    pub dir: Arc<cap_std::fs::Dir>,
    /// What bodies held in memory may take together.
    pub budget: Arc<MemoryBudget>,
}

impl Spill {
    /// Takes `bytes` of the budget for a body read whole, if there is room.
    pub fn hold(&self, bytes: u64) -> Option<Held> {
        (bytes <= SPILL_AT && self.budget.try_take(bytes)).then(|| Held {
            budget: Some(Arc::clone(&self.budget)),
            bytes,
        })
    }

    fn file(&self) -> std::io::Result<std::fs::File> {
        rostree_repo::scratch::unnamed_file(&self.dir)
    }
}

/// Memory taken from a budget, given back when dropped.
pub struct Held {
    budget: Option<Arc<MemoryBudget>>,
    bytes: u64,
}

impl Held {
    /// Memory taken from no budget.
    pub fn none() -> Held {
        Held {
            budget: None,
            bytes: 0,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give(self.bytes);
        }
    }
}

/// A fetched body.
pub enum Body {
    /// In memory, holding its share of the budget until dropped.
    Memory(Bytes, Held),
    /// In an unnamed file, positioned at its start, `len` bytes long.
    File(std::fs::File, u64),
}

impl Body {
    /// The body's length.
    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(data, _) => data.len() as u64,
            Body::File(_, len) => *len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A body being received.
pub(crate) enum Sink {
    Memory {
        data: Vec<u8>,
        spill: Option<Spill>,
        held: Held,
    },
    File {
        file: std::fs::File,
        len: u64,
    },
}

impl Sink {
    /// A sink kept in memory (metadata, bounded by its size limit).
    pub fn memory() -> Sink {
        Sink::Memory {
            data: Vec::new(),
            spill: None,
            held: Held {
                budget: None,
                bytes: 0,
            },
        }
    }

    /// A sink that goes to a file when the body is large or the budget is spent.
    pub fn spilling(spill: Spill) -> Sink {
        let budget = Some(Arc::clone(&spill.budget));
        Sink::Memory {
            data: Vec::new(),
            spill: Some(spill),
            held: Held { budget, bytes: 0 },
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            Sink::Memory { data, .. } => data.len() as u64,
            Sink::File { len, .. } => *len,
        }
    }

    /// Drops what was received (the server sends the whole body again).
    pub fn clear(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Memory { data, held, .. } => {
                data.clear();
                held.release();
            }
            Sink::File { file, len } => {
                file.set_len(0)?;
                file.rewind()?;
                *len = 0;
            }
        }
        Ok(())
    }

    /// The server announced `len` more bytes: a large body goes to a file at once, a small
    /// one has room reserved (up to a bound, as a header may lie).
    pub fn expect(&mut self, len: u64) -> std::io::Result<()> {
        if let Sink::Memory { data, spill, .. } = self {
            if spill.is_some() && data.len() as u64 + len > SPILL_AT {
                return self.spill_to_file();
            }
            data.reserve(usize::try_from(len.min(SPILL_AT)).unwrap_or(0));
        }
        Ok(())
    }

    pub fn append(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Memory { data, spill, held } => {
                let Some(spill) = spill else {
                    data.extend_from_slice(chunk);
                    return Ok(());
                };
                let grown = data.len() as u64 + chunk.len() as u64;
                if grown <= SPILL_AT && spill.budget.try_take(chunk.len() as u64) {
                    held.bytes += chunk.len() as u64;
                    data.extend_from_slice(chunk);
                    return Ok(());
                }
                self.spill_to_file()?;
                self.append(chunk)
            }
            Sink::File { file, len } => {
                file.write_all(chunk)?;
                *len += chunk.len() as u64;
                Ok(())
            }
        }
    }

    /// Moves what is in memory to a file, giving its memory back.
    fn spill_to_file(&mut self) -> std::io::Result<()> {
        let Sink::Memory {
            data,
            spill: Some(spill),
            held,
        } = self
        else {
            return Ok(());
        };
        let mut file = spill.file()?;
        file.write_all(data)?;
        let len = data.len() as u64;
        held.release();
        *self = Sink::File { file, len };
        Ok(())
    }

    /// The body received, as bytes (for sinks made by [`Sink::memory`], which stay there).
    pub fn into_bytes(self) -> std::io::Result<Bytes> {
        match self.finish()? {
            Body::Memory(data, _) => Ok(data),
            Body::File(mut file, len) => {
                let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                std::io::Read::read_to_end(&mut file, &mut data)?;
                Ok(Bytes::from(data))
            }
        }
    }

    /// The body received.
    pub fn finish(self) -> std::io::Result<Body> {
        match self {
            Sink::Memory { data, held, .. } => Ok(Body::Memory(Bytes::from(data), held)),
            Sink::File { mut file, len } => {
                file.rewind()?;
                Ok(Body::File(file, len))
            }
        }
    }
}

impl Held {
    fn release(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give(std::mem::take(&mut self.bytes));
        }
    }
}
