//! Drawing library progress events: a spinner with counts on a terminal, nothing otherwise
//! (upstream prints nothing either, and scripts read stdout).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use rostree::repo::progress::{Event, Progress};

/// Renders commit progress on stderr when it is a terminal.
pub struct CommitProgress {
    bar: Option<ProgressBar>,
    files: AtomicU64,
    written: AtomicU64,
    bytes: AtomicU64,
}

impl CommitProgress {
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
        CommitProgress {
            bar,
            files: AtomicU64::new(0),
            written: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for CommitProgress {
    fn event(&self, event: Event) {
        let Some(bar) = &self.bar else { return };
        match event {
            Event::FileCommitted { bytes, written } => {
                let files = self.files.fetch_add(1, Ordering::Relaxed) + 1;
                let new = self
                    .written
                    .fetch_add(u64::from(written), Ordering::Relaxed)
                    + u64::from(written);
                let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                if files.is_multiple_of(64) {
                    bar.set_message(format!(
                        "{files} files ({new} new), {}",
                        indicatif::HumanBytes(total)
                    ));
                }
            }
            Event::Phase(name) => bar.set_message(name),
            _ => {}
        }
    }
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
