//! Wait queues: block until a condition holds, woken by whoever makes it true.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::{current, handoff, schedule, wake, State, Thread};
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
    pub fn wait_until<T>(&self, ready: impl FnMut() -> Option<T>) -> Result<T, Interrupted> {
        self.wait_handing_off(None, ready)
    }

    /// [`wait_until`](Self::wait_until), and the first time it has to block, hands this core
    /// straight to `next` (a blocked thread the caller has just given what it waited for) instead
    /// of waking it through a run queue: the IPC fast path. `next` is woken the ordinary way when
    /// the wait ends without blocking or the direct switch is not possible ([`super::handoff`]).
    pub fn wait_handing_off<T>(
        &self,
        mut next: Option<&Arc<Thread>>,
        mut ready: impl FnMut() -> Option<T>,
    ) -> Result<T, Interrupted> {
        let me = current();
        let result = loop {
            if let Some(v) = ready() {
                break Ok(v);
            }
            if me.killed() {
                break Err(Interrupted);
            }
            {
                let mut q = self.waiters.lock();
                q.push_back(me.clone());
                me.transition(State::Running, State::Blocked);
            }
            // A waker that made `ready` true before we queued ourselves is seen here.
            let early = match ready() {
                Some(v) => Some(Ok(v)),
                None if me.killed() => Some(Err(Interrupted)),
                None => None,
            };
            if let Some(r) = early {
                self.remove(&me);
                if let Some(n) = next.take() {
                    wake(n);
                }
                if !me.transition(State::Blocked, State::Running) {
                    // Already woken and queued: let the scheduler settle it.
                    schedule();
                }
                return r;
            }
            match next.take() {
                Some(n) => handoff(n),
                None => schedule(),
            }
            self.remove(&me);
        };
        if let Some(n) = next {
            wake(n);
        }
        result
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

    /// Takes `t` off the queue (a thread is on it at most once: it queues itself only after
    /// taking itself off).
    fn remove(&self, t: &Arc<Thread>) {
        let mut q = self.waiters.lock();
        if q.front().is_some_and(|w| Arc::ptr_eq(w, t)) {
            q.pop_front();
        } else if let Some(i) = q.iter().position(|w| Arc::ptr_eq(w, t)) {
            q.remove(i);
        }
    }

    /// Wakes every waiter.
    pub fn wake_all(&self) {
        // One at a time, keeping the queue's storage (no allocation on the next wait); only those
        // queued now: a woken thread that queues itself again is not woken twice.
        let queued = self.waiters.lock().len();
        for _ in 0..queued {
            let t = self.waiters.lock().pop_front();
            match t {
                Some(t) => wake(&t),
                None => break,
            }
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
