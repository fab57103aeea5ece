//! Inter-process communication: synchronous endpoints (call, receive, reply) and notifications.
//!
//! A message is a label and [`MSG_WORDS`] words, which travel in registers: the caller's words are
//! stored in the receiving thread's [`ThreadIpc`] and land in the receiver's registers when it
//! returns to user space, with nothing copied through user memory. A message may also carry up to
//! [`MSG_MAX`] bytes, copied from the sender's address space into a kernel buffer and from there
//! into the receiver's. A register-only message is delivered without touching either address
//! space; when the other side already waits, [`fast`] does the whole call before the general
//! system call dispatcher and switches straight to the partner.
//!
//! Objects are reached through per-process handles ([`keel_core::handles`]): a process can only
//! use what it created or was given, with the rights it was given.

pub mod fast;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use keel_abi::ipc::{MSG_MAX, MSG_WORDS};
use keel_abi::Errno;

use crate::arch::exceptions::TrapFrame;
use crate::sched::{self, Thread, WaitQueue};
use crate::sync::IrqMutex;

/// The register part of a message, in the order it lands in the receiver's `x0`..`x7`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Regs {
    /// `x0`: 0, or a negative errno (a reply that reports a dead peer).
    pub status: i64,
    /// `x1`: the sender's label.
    pub label: u64,
    /// `x2`..`x5`: the words.
    pub words: [u64; MSG_WORDS],
    /// `x6`: the number of bytes sent (all of them, even beyond the receiver's buffer).
    pub len: u64,
    /// `x7`: who sent it (the caller's pid).
    pub badge: u64,
}

impl Regs {
    /// The register part of the message a sender's system call passes in `frame` (label `x1`,
    /// words `x2`..`x5`), with the sender's pid as badge and no bytes.
    #[inline(always)]
    pub fn outgoing(frame: &TrapFrame, pid: u32) -> Regs {
        Regs {
            status: 0,
            label: frame.x[1],
            words: [frame.x[2], frame.x[3], frame.x[4], frame.x[5]],
            len: 0,
            badge: u64::from(pid),
        }
    }

    /// Puts the message into the receiver's `x0`..`x7` (`x0` 0: the call succeeded), word by
    /// word.
    #[inline(always)]
    pub fn write_into(&self, frame: &mut TrapFrame) {
        frame.x[0] = 0;
        frame.x[1] = self.label;
        frame.x[2] = self.words[0];
        frame.x[3] = self.words[1];
        frame.x[4] = self.words[2];
        frame.x[5] = self.words[3];
        frame.x[6] = self.len;
        frame.x[7] = self.badge;
    }

    /// Only a status (an error for the receiver).
    fn status(e: Errno) -> Regs {
        Regs {
            status: e.to_ret(),
            ..Regs::default()
        }
    }
}

/// A message in flight: its registers and, when the sender passed a buffer, its bytes.
#[derive(Default, Clone)]
pub struct Message {
    /// What the receiver finds in its registers (`len` is `bytes.len()`).
    pub regs: Regs,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What a thread keeps for IPC.
///
/// A thread waits for at most one message at a time, and each wait has exactly one deliverer:
/// the caller that took it off an endpoint's receiver queue, the receiver that took its call
/// (through `reply_to`), or whoever failed its call (the receive side closing, the server dying).
/// Each of those found the thread under a lock it left with (or claimed it), so deliveries never
/// overlap. The deliverer writes the slot and then sets `full` (release); only the thread itself
/// reads the slot, after seeing `full` (acquire), and clears it before it waits again.
///
/// `reply_to` follows the same rule: a caller that takes a receiver off an endpoint's queue
/// writes the receiver's `reply_to` before it delivers the call (under the endpoint's lock, or
/// with the receiver claimed); every other use is the thread's own, while it runs.
pub struct ThreadIpc {
    full: AtomicBool,
    regs: UnsafeCell<Regs>,
    bytes: UnsafeCell<Vec<u8>>,
    /// The thread that called this one and waits for its reply.
    reply_to: UnsafeCell<Option<Arc<Thread>>>,
    wait: WaitQueue,
    /// How the thread waits after blocking through [`fast`] (its kernel stack given up); only
    /// the thread itself touches it, or whoever claimed it while it is blocked.
    fast: UnsafeCell<fast::Waiting>,
    /// The endpoint the thread last received on through [`fast`], kept between receives so that
    /// a server's every `REPLY_RECV` does not take and drop a reference count; only the thread
    /// itself touches it.
    fast_endpoint: UnsafeCell<Option<Arc<Endpoint>>>,
}

impl Default for ThreadIpc {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadIpc {
    /// Nothing pending.
    pub const fn new() -> ThreadIpc {
        ThreadIpc {
            full: AtomicBool::new(false),
            regs: UnsafeCell::new(Regs {
                status: 0,
                label: 0,
                words: [0; MSG_WORDS],
                len: 0,
                badge: 0,
            }),
            bytes: UnsafeCell::new(Vec::new()),
            reply_to: UnsafeCell::new(None),
            wait: WaitQueue::new(),
            fast: UnsafeCell::new(fast::Waiting::No),
            fast_endpoint: UnsafeCell::new(None),
        }
    }

    /// Makes `caller` the one this thread's next reply answers: by the deliverer of a call, or
    /// by the thread itself (see the type's documentation).
    fn set_reply_to(&self, caller: Arc<Thread>) {
        // SAFETY: the caller is this wait's only deliverer (before it delivers) or the thread
        // itself; nobody else touches `reply_to` then.
        unsafe { *self.reply_to.get() = Some(caller) };
    }

    /// The caller waiting for this thread's reply (the thread itself, while it runs).
    fn reply_to(&self) -> Option<&Arc<Thread>> {
        // SAFETY: only the running thread calls this, and no deliverer writes `reply_to` while
        // the thread runs outside a wait.
        unsafe { (*self.reply_to.get()).as_ref() }
    }

    /// Takes the caller waiting for this thread's reply (the thread itself, while it runs).
    fn take_reply_to(&self) -> Option<Arc<Thread>> {
        // SAFETY: as in `reply_to`.
        unsafe { (*self.reply_to.get()).take() }
    }

    /// Fills the slot (see the type's documentation for why nobody else touches it now).
    fn put(&self, regs: Regs, bytes: Vec<u8>) {
        // SAFETY: the caller is this wait's only deliverer and the thread reads the slot only
        // after `full` is set below.
        unsafe {
            *self.regs.get() = regs;
            if !bytes.is_empty() || !(*self.bytes.get()).is_empty() {
                *self.bytes.get() = bytes;
            }
        }
        self.full.store(true, Ordering::Release);
    }

    /// Whether a message waits in the slot.
    fn has_message(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    /// Takes the registers of the message in the slot (the thread itself, after
    /// [`has_message`](Self::has_message)); its bytes stay until [`take_bytes`](Self::take_bytes).
    fn take_regs(&self) -> Option<Regs> {
        if !self.has_message() {
            return None;
        }
        // SAFETY: `full` is set: the deliverer is done with the slot, and only this thread
        // reads it.
        let regs = unsafe { *self.regs.get() };
        self.full.store(false, Ordering::Relaxed);
        Some(regs)
    }

    /// The bytes of the message last taken.
    fn take_bytes(&self) -> Vec<u8> {
        // SAFETY: as in `take_regs`: the thread took the message; no delivery happens before it
        // waits again.
        unsafe { core::mem::take(&mut *self.bytes.get()) }
    }

    /// Waits for a message; blocking, it switches straight to `next` (see
    /// [`WaitQueue::wait_handing_off`]), which is woken in any case.
    fn take(&self, next: Option<&Arc<Thread>>) -> Result<Message, Errno> {
        let regs = self
            .wait
            .wait_handing_off(next, || self.take_regs())
            .map_err(|_| Errno::EINTR)?;
        let bytes = if regs.len != 0 {
            self.take_bytes()
        } else {
            Vec::new()
        };
        Ok(Message { regs, bytes })
    }

    /// Fails a pending caller (the server is going away).
    pub fn abandon(&self) {
        if let Some(caller) = self.take_reply_to() {
            deliver(&caller, Message::status(Errno::EPEERDIED));
        }
    }
}

impl Message {
    /// A message with only a status.
    fn status(e: Errno) -> Message {
        Message {
            regs: Regs::status(e),
            bytes: Vec::new(),
        }
    }
}

/// Gives `t` the message it waits for and wakes it, however it waits.
fn deliver(t: &Arc<Thread>, m: Message) {
    t.ipc.put(m.regs, m.bytes);
    sched::wake(t);
}

/// Stores `m` for `t` without waking it: the caller hands the core to it next or wakes it.
fn store(t: &Thread, m: Message) {
    t.ipc.put(m.regs, m.bytes);
}

struct EndpointInner {
    /// Callers waiting for a receiver, with their messages.
    senders: VecDeque<(Arc<Thread>, Message)>,
    /// Receivers waiting for a caller.
    receivers: VecDeque<Arc<Thread>>,
}

/// A synchronous rendezvous point.
pub struct Endpoint {
    inner: IrqMutex<EndpointInner>,
    /// Handles with the receive right that are still open; at 0, callers get `EPEERDIED`.
    receivers_alive: AtomicUsize,
}

impl Endpoint {
    /// A new endpoint with one receive-capable handle about to exist.
    pub fn new() -> Arc<Endpoint> {
        Arc::new(Endpoint {
            inner: IrqMutex::new(EndpointInner {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
            }),
            receivers_alive: AtomicUsize::new(0),
        })
    }

    /// A handle with the receive right was created.
    pub fn receiver_opened(&self) {
        self.receivers_alive.fetch_add(1, Ordering::AcqRel);
    }

    /// A handle with the receive right was closed; the last one fails every waiting caller.
    pub fn receiver_closed(&self) {
        if self.receivers_alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            let senders: Vec<(Arc<Thread>, Message)> =
                self.inner.lock().senders.drain(..).collect();
            for (t, _) in senders {
                deliver(&t, Message::status(Errno::EPEERDIED));
            }
        }
    }

    /// Sends `msg` and waits for the reply.
    pub fn call(&self, msg: Message) -> Result<Message, Errno> {
        if self.receivers_alive.load(Ordering::Acquire) == 0 {
            return Err(Errno::EPEERDIED);
        }
        let me = sched::current();
        // A waiting receiver gets the message (and then this core) at once, and the caller
        // blocks for the reply. The message and the reply link are in place before the
        // endpoint's lock drops: a receiver that was killed and leaves the queue under that lock
        // either is still on it or finds the call in its slot, and its exit then fails the call.
        let receiver = {
            let mut inner = self.inner.lock();
            match inner.receivers.pop_front() {
                Some(r) => {
                    r.ipc.set_reply_to(me.clone());
                    store(&r, msg);
                    Some(r)
                }
                None => {
                    inner.senders.push_back((me.clone(), msg));
                    None
                }
            }
        };
        let reply = me.ipc.take(receiver.as_ref());
        if reply.is_err() {
            // Killed while waiting: leave the queue if the message was never picked up.
            self.inner
                .lock()
                .senders
                .retain(|(t, _)| !Arc::ptr_eq(t, &me));
        }
        let reply = reply?;
        if reply.regs.status < 0 {
            return Err(Errno((-reply.regs.status) as u16));
        }
        Ok(reply)
    }

    /// Waits for a call; the caller becomes the one a later [`reply`] answers.
    ///
    /// `replied` is a caller that [`reply`] gave its answer to without waking it: if this thread
    /// blocks, it switches straight to that caller; in every other case the caller is woken.
    pub fn receive(&self, replied: Option<Arc<Thread>>) -> Result<Message, Errno> {
        let me = sched::current();
        let ready = {
            let mut inner = self.inner.lock();
            match inner.senders.pop_front() {
                Some(s) => Some(s),
                None => {
                    inner.receivers.push_back(me.clone());
                    None
                }
            }
        };
        if let Some((caller, msg)) = ready {
            me.ipc.set_reply_to(caller);
            if let Some(r) = replied {
                sched::wake(&r);
            }
            return Ok(msg);
        }
        let msg = me.ipc.take(replied.as_ref());
        if msg.is_err() {
            self.inner.lock().receivers.retain(|t| !Arc::ptr_eq(t, &me));
        }
        msg
    }
}

/// Answers the call the current thread received last.
///
/// With `wake` false the caller is returned instead of woken: [`Endpoint::receive`] must follow
/// and wake it (or switch to it).
pub fn reply(msg: Message, wake: bool) -> Result<Option<Arc<Thread>>, Errno> {
    let caller = sched::with_current(|me| me.ipc.take_reply_to()).ok_or(Errno::EINVAL)?;
    if wake {
        deliver(&caller, msg);
        Ok(None)
    } else {
        store(&caller, msg);
        Ok(Some(caller))
    }
}

/// Checks a byte payload's size.
pub fn check_len(len: u64) -> Result<usize, Errno> {
    if len as usize > MSG_MAX {
        Err(Errno::E2BIG)
    } else {
        Ok(len as usize)
    }
}

/// An asynchronous word of bits.
pub struct Notification {
    bits: AtomicU64,
    wait: WaitQueue,
}

impl Notification {
    /// No bits set.
    pub fn new() -> Arc<Notification> {
        Arc::new(Notification {
            bits: AtomicU64::new(0),
            wait: WaitQueue::new(),
        })
    }

    /// Sets `bits` and wakes the waiters.
    pub fn signal(&self, bits: u64) {
        self.bits.fetch_or(bits, Ordering::AcqRel);
        self.wait.wake_all();
    }

    /// Waits for any bit; returns and clears them all.
    pub fn wait(&self) -> Result<u64, Errno> {
        self.wait
            .wait_until(|| match self.bits.swap(0, Ordering::AcqRel) {
                0 => None,
                b => Some(b),
            })
            .map_err(|_| Errno::EINTR)
    }
}

/// What a handle names.
#[derive(Clone)]
pub enum Object {
    /// An endpoint.
    Endpoint(Arc<Endpoint>),
    /// A notification.
    Notification(Arc<Notification>),
}
