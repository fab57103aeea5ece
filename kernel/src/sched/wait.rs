//! Wait queues: block until a condition holds, woken by whoever makes it true.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::{current, schedule, wake, State, Thread};
use crate::sync::IrqMutex;

/// Threads waiting for one kind of event.
pub struct WaitQueue {
    waiters: IrqMutex<VecDeque<Arc<Thread>>>,
}

/// The wait ended because the thread is being killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> WaitQueue {
        WaitQueue {
            waiters: IrqMutex::new(VecDeque::new()),
        }
    }

    /// Waits until `ready` returns `Some`, re-checking after every wake-up.
    ///
    /// `ready` runs with no lock of the queue held; it must be cheap and may run several times.
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> Result<T, Interrupted> {
        let me = current();
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            if me.killed() {
                return Err(Interrupted);
            }
            {
                let mut q = self.waiters.lock();
                q.push_back(me.clone());
                me.transition(State::Running, State::Blocked);
            }
            // A waker that made `ready` true before we queued ourselves is seen here.
            if let Some(v) = ready() {
                self.remove(&me);
                if !me.transition(State::Blocked, State::Running) {
                    // Already woken and queued: let the scheduler settle it.
                    schedule();
                }
                return Ok(v);
            }
            if me.killed() {
                self.remove(&me);
                if !me.transition(State::Blocked, State::Running) {
                    schedule();
                }
                return Err(Interrupted);
            }
            schedule();
            self.remove(&me);
        }
    }

    /// Waits until `ready` returns `Some` or the counter reaches `deadline` (then `None`). The
    /// wait is not ended by a kill: it is for waits that must see their end (a device transfer
    /// into a buffer of the waiter's), and the deadline bounds it.
    pub fn wait_until_deadline<T>(
        &self,
        deadline: u64,
        mut ready: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let me = current();
        loop {
            if let Some(v) = ready() {
                return Some(v);
            }
            if crate::arch::counter() >= deadline {
                return None;
            }
            {
                let mut q = self.waiters.lock();
                q.push_back(me.clone());
                super::SLEEPERS
                    .lock()
                    .insert((deadline, me.tid), me.clone());
                me.transition(State::Running, State::Blocked);
            }
            crate::time::wake_no_later_than(deadline);
            if let Some(v) = ready() {
                self.remove(&me);
                super::SLEEPERS.lock().remove(&(deadline, me.tid));
                if !me.transition(State::Blocked, State::Running) {
                    schedule();
                }
                return Some(v);
            }
            schedule();
            self.remove(&me);
            super::SLEEPERS.lock().remove(&(deadline, me.tid));
        }
    }

    fn remove(&self, t: &Arc<Thread>) {
        self.waiters.lock().retain(|w| !Arc::ptr_eq(w, t));
    }

    /// Wakes every waiter.
    pub fn wake_all(&self) {
        let waiters: VecDeque<Arc<Thread>> = core::mem::take(&mut *self.waiters.lock());
        for t in &waiters {
            wake(t);
        }
    }

    /// Wakes the longest waiter.
    pub fn wake_one(&self) {
        let t = self.waiters.lock().pop_front();
        if let Some(t) = t {
            wake(&t);
        }
    }

    /// Whether anyone waits.
    pub fn has_waiters(&self) -> bool {
        !self.waiters.lock().is_empty()
    }
}
