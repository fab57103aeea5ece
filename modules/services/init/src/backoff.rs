//! Respawn throttling: a program that keeps dying at once is restarted after a pause.

/// Restarts allowed within [`WINDOW_NS`] before init pauses.
pub const MAX_RESTARTS: usize = 5;
/// The window over which restarts are counted.
pub const WINDOW_NS: u64 = 10_000_000_000;
/// The pause once a program restarts too often.
pub const PAUSE_NS: u64 = 5_000_000_000;

/// The recent restart times of one entry.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    recent: [u64; MAX_RESTARTS + 1],
    count: usize,
}

impl Backoff {
    /// No restarts yet.
    pub const fn new() -> Backoff {
        Backoff {
            recent: [0; MAX_RESTARTS + 1],
            count: 0,
        }
    }

    /// Records a restart at `now_ns`; returns the pause to take first (0 if none). After a pause
    /// the history starts afresh.
    pub fn restart(&mut self, now_ns: u64) -> u64 {
        // Keep the restarts inside the window, then add this one.
        let mut kept = 0;
        for i in 0..self.count {
            if now_ns.saturating_sub(self.recent[i]) < WINDOW_NS {
                self.recent[kept] = self.recent[i];
                kept += 1;
            }
        }
        self.count = kept;
        if self.count == self.recent.len() {
            self.recent.copy_within(1.., 0);
            self.count -= 1;
        }
        self.recent[self.count] = now_ns;
        self.count += 1;
        if self.count > MAX_RESTARTS {
            self.count = 0;
            PAUSE_NS
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn pauses_after_too_many_quick_restarts() {
        let mut b = Backoff::new();
        for i in 0..MAX_RESTARTS as u64 {
            assert_eq!(b.restart(i * S / 10), 0);
        }
        assert_eq!(b.restart(S), PAUSE_NS);
        // History starts afresh after the pause.
        assert_eq!(b.restart(7 * S), 0);
    }

    #[test]
    fn slow_restarts_never_pause() {
        let mut b = Backoff::new();
        for i in 0..100u64 {
            assert_eq!(b.restart(i * 3 * S), 0);
        }
    }
}
