//! The crash harness: seeded random moments at which a running command is SIGKILLed.
//!
//! `ROSTREE_CRASH_KILLS` sets the kills per operation (default 20) and
//! `ROSTREE_CRASH_SEED` the seed; [`Harness::context`] names both in failure messages.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x0005_eed0_c4a5_4001;

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A delay in [0, limit].
    pub fn delay(&mut self, limit: Duration) -> Duration {
        let micros = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX).max(1);
        Duration::from_micros(self.next_u64() % (micros + 1))
    }
}

/// Kills per operation and the random stream they are timed by.
pub struct Harness {
    /// How many kills to make.
    pub kills: usize,
    /// The seed, for reproducing a failure.
    pub seed: u64,
    /// The stream of this operation.
    pub rng: Rng,
}

impl Harness {
    /// The harness of `operation`, from the environment.
    pub fn new(operation: &str) -> Harness {
        let kills = std::env::var("ROSTREE_CRASH_KILLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        let seed = std::env::var("ROSTREE_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SEED);
        // Each operation its own stream, so one can be rerun alone.
        let salt = operation
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b));
        Harness {
            kills,
            seed,
            rng: Rng((seed ^ salt) | 1),
        }
    }

    /// What a failure message names: the operation, the seed, the kill and its moment.
    pub fn context(&self, operation: &str, kill: usize, delay: Duration) -> String {
        format!(
            "{operation}, seed {}, kill {kill} after {} µs",
            self.seed,
            delay.as_micros()
        )
    }
}

/// How long `cmd` takes when left alone (it must succeed).
pub fn time_of(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running");
    assert!(status.success(), "the timing run failed: {cmd:?}");
    start.elapsed()
}

/// Starts `cmd` and SIGKILLs it after `delay`; returns whether it had finished first.
pub fn run_and_kill(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning");
    let deadline = Instant::now() + delay;
    loop {
        if child.try_wait().expect("waiting").is_some() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            // Child::kill sends SIGKILL.
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_micros(500)));
    }
}
