//! The IPC fast path: `CALL` and `REPLY_RECV` with register-only messages, when the other side
//! already waits.
//!
//! It runs before the general system call dispatcher and either does the whole call or changes
//! nothing and returns, leaving the call to the general path ([`super::Endpoint`]). When it goes
//! ahead, the message's registers go straight into the partner's slot, the partner is claimed
//! (no wake-up can queue it any more) and the calling thread blocks **without keeping its kernel
//! stack**: nothing but its trap frame stays, and whoever wakes it later (the reply, a kill, a
//! dead server), it resumes in [`ipc_resume`], which completes the wait into that frame and
//! returns to user space. The core goes to the partner at once ([`sched::block_to`]), with no
//! scheduler pass, no message structure and no wait queue.
//!
//! It applies when:
//! - `CALL` sends no bytes (`x7` = 0; a receive buffer for the reply's bytes is fine), the
//!   handle names an endpoint with the send right, some receiver is still open, no caller queues
//!   on it and a receiver waits;
//! - `REPLY_RECV` sends no bytes (`x7` = 0), the thread holds a caller that waits for the reply,
//!   the handle names an endpoint with the receive right, and no caller queues on it (so the
//!   server will wait);
//! - and nothing more urgent than the partner waits for this core, and the partner is still
//!   blocked (not woken or killed meanwhile).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use keel_abi::ipc::{RIGHT_RECV, RIGHT_SEND};
use keel_abi::Errno;

use super::{Endpoint, Object, Regs};
use crate::arch::exceptions::TrapFrame;
use crate::proc::Process;
use crate::sched::{self, Thread};

/// What a thread that blocked through the fast path waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Not blocked through the fast path.
    No,
    /// The reply to its call.
    Reply,
    /// A call on the endpoint in its `fast_endpoint` (it is on that endpoint's receiver queue).
    Call,
}

extern "C" {
    fn ipc_resume_trampoline();
    fn ipc_enter_at_frame(frame: u64) -> !;
}

/// The running thread and its process, borrowed (system calls run with interrupts masked, so the
/// running thread cannot change under the borrow); `None` when the call in `frame` sends bytes
/// (`x7`), which the general path copies, or comes from a kernel thread.
#[inline(always)]
fn register_only<'a>(frame: &TrapFrame) -> Option<(&'a Arc<Thread>, &'a Arc<Process>)> {
    if frame.x[7] != 0 {
        return None;
    }
    // SAFETY: interrupts stay masked for the whole system call, and the thread is this core's
    // current thread until it blocks, which ends every use of the borrow (`block_to` never
    // returns).
    let me = unsafe { sched::current_masked() };
    let p = me.process.as_ref()?;
    Some((me, p))
}

/// `CALL`, from the exception entry (`vectors.s`): does it through the fast path, or returns
/// having changed nothing, and the general handler takes the call.
#[no_mangle]
extern "C" fn ipc_fast_call(frame: &mut TrapFrame) {
    let Some((me, p)) = register_only(frame) else {
        return;
    };
    let Some(receiver) = endpoint_then(p, frame.x[0], RIGHT_SEND, |ep| {
        if ep.receivers_alive.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut inner = ep.inner.lock_masked();
        match inner.receivers.front() {
            Some(r) if inner.senders.is_empty() && sched::may_hand_to(r) && sched::claim(r) => {
                inner.receivers.pop_front()
            }
            _ => None,
        }
    }) else {
        return;
    };
    receiver.ipc.set_reply_to(me.clone());
    let enter = hand_over(&receiver, frame, p);
    // SAFETY: this thread runs, so nobody has claimed it: only it touches its `fast` field,
    // which holds `No` outside a fast wait (`ipc_resume` and `hand_over` empty it): nothing to
    // drop.
    unsafe { me.ipc.fast.get().write(Waiting::Reply) };
    sched::block_to(frame, ipc_resume_trampoline, receiver, enter, has_message)
}

/// `REPLY_RECV`, from the exception entry (`vectors.s`): does it through the fast path, or
/// returns having changed nothing, and the general handler takes the call.
#[no_mangle]
extern "C" fn ipc_fast_reply_recv(frame: &mut TrapFrame) {
    let Some((me, p)) = register_only(frame) else {
        return;
    };
    let Some(caller) = endpoint_then(p, frame.x[0], RIGHT_RECV, |ep| {
        let mut inner = ep.inner.lock_masked();
        if !inner.senders.is_empty() {
            return None;
        }
        let caller = match me.ipc.reply_to() {
            Some(c) if sched::may_hand_to(c) && sched::claim(c) => me.ipc.take_reply_to(),
            _ => None,
        }?;
        inner.receivers.push_back(me.clone());
        // SAFETY: this thread runs, so only it touches its `fast_endpoint`.
        let kept = unsafe { &mut *me.ipc.fast_endpoint.get() };
        if !kept.as_ref().is_some_and(|k| Arc::ptr_eq(k, ep)) {
            *kept = Some(ep.clone());
        }
        Some(caller)
    }) else {
        return;
    };
    let enter = hand_over(&caller, frame, p);
    // SAFETY: as in `ipc_fast_call`.
    unsafe { me.ipc.fast.get().write(Waiting::Call) };
    sched::block_to(frame, ipc_resume_trampoline, caller, enter, has_message)
}

/// Calls `f` with the endpoint behind handle `h` if it carries `right`, under the handle table's
/// lock (no reference count is taken for the lookup).
fn endpoint_then<R>(
    p: &Process,
    h: u64,
    right: u32,
    f: impl FnOnce(&Arc<Endpoint>) -> Option<R>,
) -> Option<R> {
    let h = u32::try_from(h).ok()?;
    match p.handles.lock_masked().get(h, right).ok()? {
        Object::Endpoint(ep) => f(ep),
        _ => None,
    }
}

/// Gives the claimed thread `to` the message in `frame` (label x1, words x2..x5, from `p`), and
/// says how it goes on. A thread that waits in the fast path itself gets the registers straight
/// into its trap frame and returns to user space from there; any other waits in the general path
/// and finds the message in its slot.
#[inline(always)]
fn hand_over(to: &Thread, frame: &TrapFrame, p: &Process) -> sched::Enter {
    // SAFETY: `to` is claimed: it cannot run (or be woken) until this core switches to it, so
    // its `fast` field and its trap frame are this thread's to use, as the slot is.
    let waiting = unsafe { &mut *to.ipc.fast.get() };
    if *waiting == Waiting::No {
        to.ipc.put(Regs::outgoing(frame, p.pid), Vec::new());
        return sched::Enter::Context;
    }
    *waiting = Waiting::No;
    let at = to
        .user_frame()
        .expect("a thread blocked in IPC is a user thread");
    // SAFETY: as above: the trap frame at the top of `to`'s stack is where it entered the kernel
    // and where it leaves it; nothing else touches it while `to` is claimed.
    let theirs = unsafe { &mut *(at as *mut TrapFrame) };
    Regs::outgoing(frame, p.pid).write_into(theirs);
    sched::Enter::Call(ipc_enter_at_frame, at)
}

/// Where [`hand_over`]'s thread goes on (from `ipc_enter_at_frame`, on its own stack): the
/// switch is finished and the return to user space handled as for every system call.
#[no_mangle]
extern "C" fn ipc_entered() {
    sched::finish_switch();
    crate::proc::return_to_user();
}

/// Where a thread that blocked through the fast path resumes (from `ipc_resume_trampoline`, on
/// its own stack, just below its trap frame): completes its wait into `frame`, then goes on to
/// user space like every system call.
#[no_mangle]
extern "C" fn ipc_resume(frame: &mut TrapFrame) {
    sched::finish_switch();
    // SAFETY: interrupts are masked (as in every system call), and the borrow ends when the
    // thread returns to user space or blocks again.
    let me = unsafe { sched::current_masked() };
    let p = me.process.as_ref().expect("only user threads block in IPC");
    // SAFETY: this thread runs, so nobody has claimed it: only it touches its `fast` field.
    let waiting = core::mem::replace(unsafe { &mut *me.ipc.fast.get() }, Waiting::No);
    let mut regs = me.ipc.take_regs();
    if regs.is_none() && waiting == Waiting::Call {
        // SAFETY: this thread runs, so only it touches its `fast_endpoint`.
        if let Some(ep) = unsafe { &*me.ipc.fast_endpoint.get() } {
            // Woken without a call (killed): leave the queue, unless a caller took this thread
            // off it just before; a caller fills the slot before it lets go of the endpoint's
            // lock (`Endpoint::call`), so its call is here then.
            ep.inner.lock().receivers.retain(|t| !Arc::ptr_eq(t, me));
            regs = me.ipc.take_regs();
        }
    }
    if regs.is_none() && waiting == Waiting::Reply && !me.killed() {
        // Not a wake-up this wait expects: wait on for the reply, the ordinary way.
        regs = me.ipc.wait.wait_until(|| me.ipc.take_regs()).ok();
    }
    match regs {
        Some(regs) if regs.status < 0 => frame.x[0] = regs.status as u64,
        Some(regs) => {
            let bytes = if regs.len != 0 {
                me.ipc.take_bytes()
            } else {
                Vec::new()
            };
            if let Err(e) = crate::syscall::deliver_into(p, frame, frame.x[6], &regs, &bytes) {
                frame.x[0] = e.to_ret() as u64;
            }
        }
        None => frame.x[0] = Errno::EINTR.to_ret() as u64,
    }
    crate::proc::return_to_user();
}

/// Whether a blocking thread's message came already (see [`sched::block_to`]).
fn has_message(t: &Thread) -> bool {
    t.ipc.has_message()
}
