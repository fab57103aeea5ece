//! The work queue: bottom halves that drivers defer from their interrupt handlers to the
//! kernel's work thread (`kworker`), where interrupts are enabled and the work may take its time.
//!
//! A work item is a module function and its context (`keel_work_schedule`), or a kernel function
//! and its argument ([`schedule_kernel`]: work the kernel defers from interrupt context itself). Queuing an item that
//! is already queued and has not started does nothing, so a burst of interrupts runs the bottom
//! half once. The thread runs items one at a time, in order, each through the containment entry:
//! a fault fails the module and the thread goes on with the next item.

use alloc::collections::VecDeque;

use keel_abi::Errno;
use spin::Once;

use crate::module::{self, contain, ModuleId};
use crate::sched::thread::{Thread, PRIO_KERNEL};
use crate::sched::{self, WaitQueue};
use crate::sync::IrqMutex;

/// Items queued at most at once.
const QUEUE_MAX: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Item {
    /// The module whose function this is; `None` for a kernel function.
    module: Option<ModuleId>,
    function: usize,
    context: usize,
}

struct Queue {
    items: VecDeque<Item>,
    /// The item the thread is running.
    running: Option<Item>,
}

static QUEUE: IrqMutex<Queue> = IrqMutex::new(Queue {
    items: VecDeque::new(),
    running: None,
});
/// The work thread sleeps here while the queue is empty.
static PENDING: WaitQueue = WaitQueue::new();
static THREAD: Once<alloc::sync::Arc<Thread>> = Once::new();

/// Starts the work thread.
pub fn init() -> Result<(), &'static str> {
    QUEUE.lock().items.reserve(QUEUE_MAX);
    let thread = Thread::new("kworker", PRIO_KERNEL, worker, 0, None)
        .ok_or("no memory for the work thread")?;
    THREAD.call_once(|| thread.clone());
    sched::start(&thread);
    // Let the thread reach its first sleep now, so that its place in the wait queue is
    // allocated during boot rather than in the middle of whatever runs next.
    while !PENDING.has_waiters() {
        sched::yield_now();
    }
    Ok(())
}

extern "C" fn worker(_: usize) {
    loop {
        let next = PENDING.wait_until(|| {
            let mut q = QUEUE.lock();
            let item = q.items.pop_front()?;
            q.running = Some(item);
            Some(item)
        });
        let Ok(item) = next else {
            return;
        };
        match item.module {
            Some(module) => {
                if let Err(failure) = contain::call(module, item.function, item.context) {
                    module::fail(module, failure);
                }
            }
            None => {
                // SAFETY: kernel items are queued only by `schedule_kernel`, from a `fn(usize)`.
                let function: fn(usize) = unsafe { core::mem::transmute(item.function) };
                function(item.context);
            }
        }
        QUEUE.lock().running = None;
    }
}

/// Queues `function(context)` for `module` (the `keel_work_schedule` export; any context).
pub fn schedule(module: ModuleId, function: usize, context: usize) -> Result<(), Errno> {
    if !module::in_text_of(module, function as u64) {
        return Err(Errno::EINVAL);
    }
    push(Item {
        module: Some(module),
        function,
        context,
    })
}

/// Queues the kernel function `function(argument)` (any context).
pub fn schedule_kernel(function: fn(usize), argument: usize) -> Result<(), Errno> {
    push(Item {
        module: None,
        function: function as usize,
        context: argument,
    })
}

fn push(item: Item) -> Result<(), Errno> {
    {
        let mut q = QUEUE.lock();
        if q.items.contains(&item) {
            return Ok(());
        }
        if q.items.len() >= QUEUE_MAX {
            return Err(Errno::ENOMEM);
        }
        q.items.push_back(item);
    }
    PENDING.wake_one();
    Ok(())
}

/// Waits (yielding, at most `limit_ms`) until the queue is empty and no item runs; whether it
/// got there. For the in-kernel tests, whose leak checks compare counters that deferred work
/// (a partition scan, a failed driver's teardown) may still be changing.
#[cfg(feature = "qemu-test")]
pub fn wait_idle(limit_ms: u64) -> bool {
    let deadline = crate::time::uptime_nanos() + limit_ms * 1_000_000;
    loop {
        {
            let q = QUEUE.lock();
            if q.items.is_empty() && q.running.is_none() {
                return true;
            }
        }
        if crate::time::uptime_nanos() > deadline {
            return false;
        }
        sched::yield_now();
    }
}

/// Whether the caller is the work thread.
fn on_worker() -> bool {
    THREAD
        .get()
        .is_some_and(|t| alloc::sync::Arc::ptr_eq(t, &sched::current()))
}

/// Removes the items `matches` selects and waits until none of them runs (unless the caller is
/// the work thread itself, which would wait for itself).
///
/// The wait spins rather than sleeps: the caller may be inside a contained call (a module's
/// `exit`), which must not block. A running item is running on another core right now (kernel
/// threads are not preempted and work functions do not block), so it finishes soon.
fn cancel_where(matches: impl Fn(&Item) -> bool) {
    QUEUE.lock().items.retain(|i| !matches(i));
    if on_worker() {
        return;
    }
    while QUEUE.lock().running.as_ref().is_some_and(&matches) {
        core::hint::spin_loop();
    }
}

/// Cancels one item (the `keel_work_cancel` export).
pub fn cancel(module: ModuleId, function: usize, context: usize) {
    let item = Item {
        module: Some(module),
        function,
        context,
    };
    cancel_where(|i| *i == item);
}

/// Cancels every item of `module` and waits until none runs (the module is being freed).
pub fn cancel_module(module: ModuleId) {
    cancel_where(|i| i.module == Some(module));
}

/// Drops the queued items of a failed module without waiting (any context).
pub fn forget_module(module: ModuleId) {
    QUEUE.lock().items.retain(|i| i.module != Some(module));
}
