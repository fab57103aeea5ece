//! Inter-process communication: synchronous endpoints (call, receive, reply) and notifications.
//!
//! A message is a label and [`MSG_WORDS`] words, which travel in registers: the caller's words are
//! stored in the receiving thread's [`ThreadIpc`] and land in the receiver's registers when it
//! returns to user space, with nothing copied through user memory. A message may also carry up to
//! [`MSG_MAX`] bytes, copied from the sender's address space into a kernel buffer and from there
//! into the receiver's. A register-only message (the fast path) is delivered without touching
//! either address space: the caller stores it in the waiting receiver's slot and wakes it.
//!
//! Objects are reached through per-process handles ([`keel_core::handles`]): a process can only
//! use what it created or was given, with the rights it was given.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use keel_abi::ipc::{MSG_MAX, MSG_WORDS};
use keel_abi::Errno;

use crate::sched::{self, Thread, WaitQueue};
use crate::sync::IrqMutex;

/// A message in flight.
#[derive(Default, Clone)]
pub struct Message {
    /// Status for the receiver: 0, or a negative errno (a reply that reports a dead peer).
    pub status: i64,
    /// The sender's label.
    pub label: u64,
    /// The register words.
    pub words: [u64; MSG_WORDS],
    /// Bytes, when the sender passed a buffer.
    pub bytes: Vec<u8>,
    /// Who sent it (the caller's pid).
    pub badge: u64,
}

/// What a thread keeps for IPC.
pub struct ThreadIpc {
    /// A message delivered to this thread while it waited.
    incoming: IrqMutex<Option<Message>>,
    /// The thread that called this one and waits for its reply.
    reply_to: IrqMutex<Option<Arc<Thread>>>,
    wait: WaitQueue,
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
            incoming: IrqMutex::new(None),
            reply_to: IrqMutex::new(None),
            wait: WaitQueue::new(),
        }
    }

    fn deliver(&self, m: Message) {
        *self.incoming.lock() = Some(m);
        self.wait.wake_all();
    }

    /// Stores `m` without waking the thread: the caller hands the core to it next
    /// ([`take`](Self::take) with it as `next`), or wakes it.
    fn store(&self, m: Message) {
        *self.incoming.lock() = Some(m);
    }

    /// Waits for a message; blocking, it switches straight to `next` (see
    /// [`WaitQueue::wait_handing_off`]), which is woken in any case.
    ///
    /// The wait only looks at the slot, and the message is moved out once at the end: only this
    /// thread empties its slot, and nobody fills it twice (one reply per call).
    fn take(&self, next: Option<&Arc<Thread>>) -> Result<Message, Errno> {
        self.wait
            .wait_handing_off(next, || self.incoming.lock().is_some().then_some(()))
            .map_err(|_| Errno::EINTR)?;
        self.incoming.lock().take().ok_or(Errno::EINTR)
    }

    /// Fails a pending caller (the server is going away).
    pub fn abandon(&self) {
        if let Some(caller) = self.reply_to.lock().take() {
            caller.ipc.deliver(Message {
                status: Errno::EPEERDIED.to_ret(),
                ..Message::default()
            });
        }
    }
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
    /// Calls completed, for statistics.
    pub calls: AtomicU64,
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
            calls: AtomicU64::new(0),
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
                t.ipc.deliver(Message {
                    status: Errno::EPEERDIED.to_ret(),
                    ..Message::default()
                });
            }
        }
    }

    /// Sends `msg` and waits for the reply.
    pub fn call(&self, msg: Message) -> Result<Message, Errno> {
        if self.receivers_alive.load(Ordering::Acquire) == 0 {
            return Err(Errno::EPEERDIED);
        }
        let me = sched::current();
        let receiver = {
            let mut inner = self.inner.lock();
            match inner.receivers.pop_front() {
                Some(r) => Some((r, msg)),
                None => {
                    inner.senders.push_back((me.clone(), msg));
                    None
                }
            }
        };
        // The fast path: a receiver waits, so it gets the message and this core at once, and the
        // caller blocks for the reply.
        let receiver = receiver.map(|(r, msg)| {
            *r.ipc.reply_to.lock() = Some(me.clone());
            r.ipc.store(msg);
            r
        });
        let reply = me.ipc.take(receiver.as_ref());
        if reply.is_err() {
            // Killed while waiting: leave the queue if the message was never picked up.
            self.inner
                .lock()
                .senders
                .retain(|(t, _)| !Arc::ptr_eq(t, &me));
        }
        let reply = reply?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        if reply.status < 0 {
            return Err(Errno((-reply.status) as u16));
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
            *me.ipc.reply_to.lock() = Some(caller);
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
    let caller = sched::with_current(|me| me.ipc.reply_to.lock().take()).ok_or(Errno::EINVAL)?;
    if wake {
        caller.ipc.deliver(msg);
        Ok(None)
    } else {
        caller.ipc.store(msg);
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
