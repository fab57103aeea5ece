//! Inter-process communication: synchronous endpoints and asynchronous notifications.
//!
//! An **endpoint** is a rendezvous point: a client's [`CALL`](crate::syscall::CALL) blocks until a
//! server [`RECV`](crate::syscall::RECV)s it and [`REPLY`](crate::syscall::REPLY)s. A message is a
//! label plus [`MSG_WORDS`] words carried in registers (the fast path: nothing is copied through
//! memory), optionally with up to [`MSG_MAX`] bytes copied between the two address spaces.
//!
//! Registers:
//!
//! | call | in | out |
//! |---|---|---|
//! | `CALL` | `x0` handle, `x1` label, `x2`..`x5` words, `x6` `*const IpcBuffers` or 0, `x7` bytes to send | `x0` status, `x1` reply label, `x2`..`x5` reply words, `x6` reply bytes |
//! | `RECV` | `x0` handle, `x6` `*const IpcBuffers` or 0 | `x0` status, `x1` label, `x2`..`x5` words, `x6` bytes, `x7` badge (the caller's pid) |
//! | `REPLY` | `x1` label, `x2`..`x5` words, `x6` `*const IpcBuffers` or 0, `x7` bytes to send | `x0` status |
//! | `REPLY_RECV` | `x0` handle, then as `REPLY` | as `RECV` |
//!
//! The number of bytes to send is a register (`x7`, at most [`MSG_MAX`], taken from
//! [`IpcBuffers::send`]; with `x6` 0 it must be 0), so the kernel knows whether a message is
//! register-only without reading user memory. Bytes beyond the receiver's buffer are dropped; the byte count returned is the full length sent,
//! so a receiver can tell. A server that dies while a client waits for its reply makes the call
//! fail with `EPEERDIED`.
//!
//! A **notification** is a word of bits: [`NOTIFY_SIGNAL`](crate::syscall::NOTIFY_SIGNAL) ORs bits
//! in without blocking; [`NOTIFY_WAIT`](crate::syscall::NOTIFY_WAIT) blocks until some bit is set
//! and returns and clears them all.
//!
//! Handles are per-process capabilities: small integers naming an object plus the rights the
//! holder has on it. A process can use only the handles it created or was given at spawn.

/// Message words carried in registers.
pub const MSG_WORDS: usize = 4;
/// Most bytes copied with one message.
pub const MSG_MAX: usize = 4096;

/// Buffers for a message that carries bytes as well as words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcBuffers {
    /// Bytes to send (address; how many is the call's `x7`).
    pub send: u64,
    /// Where received bytes go (address).
    pub recv: u64,
    /// Room at `recv`.
    pub recv_cap: u64,
}

/// Right: may call the endpoint.
pub const RIGHT_SEND: u32 = 1 << 0;
/// Right: may receive on the endpoint.
pub const RIGHT_RECV: u32 = 1 << 1;
/// Right: may signal the notification.
pub const RIGHT_SIGNAL: u32 = 1 << 2;
/// Right: may wait on the notification.
pub const RIGHT_WAIT: u32 = 1 << 3;
/// Right: may be copied (to a child at spawn, or with `HANDLE_DUP`).
pub const RIGHT_DUP: u32 = 1 << 4;
/// Every right.
pub const RIGHTS_ALL: u32 = RIGHT_SEND | RIGHT_RECV | RIGHT_SIGNAL | RIGHT_WAIT | RIGHT_DUP;

/// Most handles a process may hold.
pub const MAX_HANDLES: usize = 64;
