//! Inter-process communication: synchronous endpoints and notifications ([`keel_abi::ipc`]).
//!
//! A message is a label and [`MSG_WORDS`] words carried in registers; the `_with` variants also
//! copy up to [`keel_abi::ipc::MSG_MAX`] bytes.

use crate::raw::{self, IpcRegs};
use keel_abi::ipc::{IpcBuffers, MSG_WORDS};
use keel_abi::syscall;

/// A handle number (per process).
pub type Handle = u32;

/// A register-only message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// What the message is about (the protocol's operation or reply code).
    pub label: u64,
    /// The words.
    pub words: [u64; MSG_WORDS],
}

impl Message {
    /// A message with a label and words.
    pub const fn new(label: u64, words: [u64; MSG_WORDS]) -> Message {
        Message { label, words }
    }
}

/// A message received by a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// The message.
    pub msg: Message,
    /// Bytes the sender sent (may exceed the receive buffer; the excess was dropped).
    pub len: usize,
    /// The badge: the caller's pid.
    pub badge: u64,
}

/// The registers of a call: `bufs` with the number of bytes to send from them.
#[inline]
fn regs(handle: u64, msg: &Message, bufs: Option<(&IpcBuffers, usize)>) -> IpcRegs {
    let w = msg.words;
    IpcRegs {
        x: [
            handle,
            msg.label,
            w[0],
            w[1],
            w[2],
            w[3],
            bufs.map_or(0, |(b, _)| b as *const IpcBuffers as u64),
            bufs.map_or(0, |(_, n)| n as u64),
        ],
    }
}

#[inline]
fn decode(r: &IpcRegs) -> crate::Result<Received> {
    raw::check(r.x[0] as i64)?;
    Ok(Received {
        msg: Message {
            label: r.x[1],
            words: [r.x[2], r.x[3], r.x[4], r.x[5]],
        },
        len: r.x[6] as usize,
        badge: r.x[7],
    })
}

#[inline]
fn buffers(send: &[u8], recv: &mut [u8]) -> IpcBuffers {
    IpcBuffers {
        send: send.as_ptr() as u64,
        recv: recv.as_mut_ptr() as u64,
        recv_cap: recv.len() as u64,
    }
}

#[inline]
fn ipc(nr: u64, r: &mut IpcRegs) {
    // SAFETY: `x6` is 0 or points to an `IpcBuffers` built from slices that the caller of this
    // module's functions borrows for the duration of the call (send read-only, recv mutably).
    unsafe { raw::ipc(nr, r) };
}

/// An IPC endpoint handle, closed when dropped.
#[derive(Debug)]
pub struct Endpoint {
    handle: Handle,
}

impl Endpoint {
    /// Creates a new endpoint (the caller holds every right on it).
    pub fn create() -> crate::Result<Endpoint> {
        // SAFETY: ENDPOINT_CREATE touches no user memory.
        let h = raw::check(unsafe { raw::syscall0(syscall::ENDPOINT_CREATE) })?;
        Ok(Endpoint {
            handle: h as Handle,
        })
    }

    /// Takes ownership of a handle (e.g. handle 0, given at spawn).
    pub fn from_raw(handle: Handle) -> Endpoint {
        Endpoint { handle }
    }

    /// The handle number.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Gives up ownership: the handle stays open.
    pub fn into_raw(self) -> Handle {
        let h = self.handle;
        core::mem::forget(self);
        h
    }

    /// Sends `msg` and waits for the reply.
    #[inline]
    pub fn call(&self, msg: Message) -> crate::Result<Message> {
        let mut r = regs(self.handle as u64, &msg, None);
        ipc(syscall::CALL, &mut r);
        decode(&r).map(|m| m.msg)
    }

    /// Sends `msg` with the bytes `send` and waits for the reply, whose bytes go to `recv`:
    /// the reply and the number of bytes the server sent.
    #[inline]
    pub fn call_with(
        &self,
        msg: Message,
        send: &[u8],
        recv: &mut [u8],
    ) -> crate::Result<(Message, usize)> {
        let b = buffers(send, recv);
        let mut r = regs(self.handle as u64, &msg, Some((&b, send.len())));
        ipc(syscall::CALL, &mut r);
        decode(&r).map(|m| (m.msg, m.len))
    }

    /// Waits for a message (without bytes).
    #[inline]
    pub fn recv(&self) -> crate::Result<Received> {
        let mut r = regs(self.handle as u64, &Message::default(), None);
        ipc(syscall::RECV, &mut r);
        decode(&r)
    }

    /// Waits for a message; its bytes go to `buf`.
    #[inline]
    pub fn recv_with(&self, buf: &mut [u8]) -> crate::Result<Received> {
        let b = buffers(&[], buf);
        let mut r = regs(self.handle as u64, &Message::default(), Some((&b, 0)));
        ipc(syscall::RECV, &mut r);
        decode(&r)
    }

    /// Replies to the message last received.
    #[inline]
    pub fn reply(msg: Message) -> crate::Result<()> {
        let mut r = regs(0, &msg, None);
        ipc(syscall::REPLY, &mut r);
        raw::check(r.x[0] as i64).map(drop)
    }

    /// Replies to the message last received, with bytes.
    #[inline]
    pub fn reply_with(msg: Message, send: &[u8]) -> crate::Result<()> {
        let b = buffers(send, &mut []);
        let mut r = regs(0, &msg, Some((&b, send.len())));
        ipc(syscall::REPLY, &mut r);
        raw::check(r.x[0] as i64).map(drop)
    }

    /// Replies to the message last received, then waits for the next one.
    #[inline]
    pub fn reply_recv(&self, msg: Message) -> crate::Result<Received> {
        let mut r = regs(self.handle as u64, &msg, None);
        ipc(syscall::REPLY_RECV, &mut r);
        decode(&r)
    }

    /// Replies with the bytes `send`, then waits for the next message, whose bytes go to `recv`.
    #[inline]
    pub fn reply_recv_with(
        &self,
        msg: Message,
        send: &[u8],
        recv: &mut [u8],
    ) -> crate::Result<Received> {
        let b = buffers(send, recv);
        let mut r = regs(self.handle as u64, &msg, Some((&b, send.len())));
        ipc(syscall::REPLY_RECV, &mut r);
        decode(&r)
    }

    /// A new handle to the same endpoint with the rights `rights` (a subset).
    pub fn dup(&self, rights: u32) -> crate::Result<Endpoint> {
        handle_dup(self.handle, rights).map(Endpoint::from_raw)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = handle_close(self.handle);
    }
}

/// A notification handle (a word of bits), closed when dropped.
#[derive(Debug)]
pub struct Notification {
    handle: Handle,
}

impl Notification {
    /// Creates a notification.
    pub fn create() -> crate::Result<Notification> {
        // SAFETY: NOTIFY_CREATE touches no user memory.
        let h = raw::check(unsafe { raw::syscall0(syscall::NOTIFY_CREATE) })?;
        Ok(Notification {
            handle: h as Handle,
        })
    }

    /// Takes ownership of a handle.
    pub fn from_raw(handle: Handle) -> Notification {
        Notification { handle }
    }

    /// The handle number.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Gives up ownership: the handle stays open.
    pub fn into_raw(self) -> Handle {
        let h = self.handle;
        core::mem::forget(self);
        h
    }

    /// ORs `bits` in, waking a waiter.
    pub fn signal(&self, bits: u64) -> crate::Result<()> {
        // SAFETY: NOTIFY_SIGNAL touches no user memory.
        raw::check(unsafe { raw::syscall2(syscall::NOTIFY_SIGNAL, self.handle as u64, bits) })
            .map(drop)
    }

    /// Waits until some bit is set; returns the bits and clears them.
    pub fn wait(&self) -> crate::Result<u64> {
        // SAFETY: NOTIFY_WAIT touches no user memory.
        raw::check(unsafe { raw::syscall1(syscall::NOTIFY_WAIT, self.handle as u64) })
    }
}

impl Drop for Notification {
    fn drop(&mut self) {
        let _ = handle_close(self.handle);
    }
}

/// Closes a handle.
pub fn handle_close(h: Handle) -> crate::Result<()> {
    // SAFETY: HANDLE_CLOSE touches no user memory.
    raw::check(unsafe { raw::syscall1(syscall::HANDLE_CLOSE, h as u64) }).map(drop)
}

/// Copies a handle with the rights `rights` (a subset of the original's).
pub fn handle_dup(h: Handle, rights: u32) -> crate::Result<Handle> {
    // SAFETY: HANDLE_DUP touches no user memory.
    raw::check(unsafe { raw::syscall2(syscall::HANDLE_DUP, h as u64, rights as u64) })
        .map(|h| h as Handle)
}
