//! System call numbers and calling convention.
//!
//! A user program enters the kernel with `svc #0`. The call number goes in `x8`, up to six
//! arguments in `x0`..`x5`. The result comes back in `x0`: a non-negative value on success,
//! `-(errno)` on failure (see [`crate::errno::Errno`]). Every other register is preserved, except
//! for the IPC calls, which also return message words in `x1`..`x7` (see [`crate::ipc`]).
//!
//! Pointers are user virtual addresses; the kernel checks every pointer and length against the
//! caller's address space and answers `EFAULT` for anything outside it. Strings are passed as a
//! pointer and a length (no terminating NUL).
//!
//! | nr | name | arguments | returns |
//! |---|---|---|---|
//! | 0 | `EXIT` | status | never returns |
//! | 1 | `SPAWN` | `*const SpawnArgs` | pid |
//! | 2 | `WAIT` | pid (or -1 for any child), `*mut i32` status (may be 0), flags ([`WNOHANG`]) | pid reaped, or 0 with `WNOHANG` and none ready |
//! | 3 | `GETPID` | | pid |
//! | 4 | `GETPPID` | | parent pid |
//! | 5 | `KILL` | pid | 0 |
//! | 6 | `YIELD` | | 0 |
//! | 7 | `SLEEP` | nanoseconds | 0 |
//! | 8 | `PROCLIST` | `*mut ProcInfo`, capacity (entries) | number of processes (may exceed capacity) |
//! | 10 | `MMAP` | length, [`crate::types::PROT_READ`]`|`… | address of zeroed anonymous memory |
//! | 11 | `MUNMAP` | address, length | 0 |
//! | 12 | `MEMINFO` | `*mut MemInfo` | 0 |
//! | 20 | `OPEN` | path, path length, flags ([`crate::types::O_RDONLY`]…) | file descriptor |
//! | 21 | `CLOSE` | fd | 0 |
//! | 22 | `READ` | fd, buffer, length | bytes read (0 at end of file) |
//! | 23 | `WRITE` | fd, buffer, length | bytes written |
//! | 24 | `SEEK` | fd, offset (i64), whence ([`crate::types::SEEK_SET`]…) | new offset |
//! | 25 | `IOCTL` | fd, request, argument | request-specific |
//! | 26 | `STAT` | path, path length, `*mut Stat` | 0 |
//! | 27 | `FSTAT` | fd, `*mut Stat` | 0 |
//! | 28 | `READDIR` | fd (a directory), `*mut DirEntry`, capacity (entries) | entries read (0 at the end) |
//! | 29 | `DUP2` | old fd, new fd | new fd |
//! | 30 | `PIPE` | `*mut [i32; 2]` (read end, write end) | 0 |
//! | 31 | `MKDIR` | path, path length | 0 |
//! | 32 | `UNLINK` | path, path length | 0 |
//! | 33 | `SYNC` | | 0 |
//! | 34 | `CHDIR` | path, path length | 0 |
//! | 35 | `GETCWD` | buffer, length | length of the path |
//! | 36 | `TRUNCATE` | fd, length | 0 |
//! | 40 | `ENDPOINT_CREATE` | | handle |
//! | 41 | `CALL` | see [`crate::ipc`] | |
//! | 42 | `RECV` | see [`crate::ipc`] | |
//! | 43 | `REPLY` | see [`crate::ipc`] | |
//! | 44 | `REPLY_RECV` | see [`crate::ipc`] | |
//! | 45 | `NOTIFY_CREATE` | | handle |
//! | 46 | `NOTIFY_SIGNAL` | handle, bits | 0 |
//! | 47 | `NOTIFY_WAIT` | handle | the bits signalled since the last wait (cleared) |
//! | 48 | `HANDLE_CLOSE` | handle | 0 |
//! | 49 | `HANDLE_DUP` | handle, rights mask | new handle with rights ⊆ old |
//! | 50 | `CLOCK` | [`crate::types::CLOCK_MONOTONIC`] | nanoseconds |
//! | 60 | `KLOG_READ` | offset, buffer, length | bytes copied (the ring's text from `offset`) |
//! | 61 | `KLOG_WRITE` | buffer, length | bytes logged |
//! | 70 | `POWER` | [`crate::types::POWER_OFF`] or [`crate::types::POWER_REBOOT`] | never returns (needs [`crate::types::CAP_POWER`]) |
//! | 80 | `INIT_MODULE` | image, image length, parameters, parameters length | 0 (needs [`crate::types::CAP_MODULES`]) |
//! | 81 | `DELETE_MODULE` | name, name length, flags | 0 (needs [`crate::types::CAP_MODULES`]) |
//! | 82 | `MODULE_LIST` | `*mut ModuleInfo`, capacity | number of modules |
//! | 90 | `KSTATS` | `*mut KernelStats` | 0 |

/// Ends the calling process with a status.
pub const EXIT: u64 = 0;
/// Starts a program in a new process.
pub const SPAWN: u64 = 1;
/// Waits for a child process to end and reaps it.
pub const WAIT: u64 = 2;
/// The caller's process id.
pub const GETPID: u64 = 3;
/// The caller's parent's process id.
pub const GETPPID: u64 = 4;
/// Ends another process (status [`crate::types::STATUS_KILLED`]).
pub const KILL: u64 = 5;
/// Gives the CPU to another runnable thread.
pub const YIELD: u64 = 6;
/// Sleeps for at least the given nanoseconds.
pub const SLEEP: u64 = 7;
/// Lists processes.
pub const PROCLIST: u64 = 8;
/// Maps anonymous zeroed memory.
pub const MMAP: u64 = 10;
/// Unmaps memory from [`MMAP`].
pub const MUNMAP: u64 = 11;
/// Memory statistics of the whole system.
pub const MEMINFO: u64 = 12;
/// Opens a file or device.
pub const OPEN: u64 = 20;
/// Closes a file descriptor.
pub const CLOSE: u64 = 21;
/// Reads from a file descriptor.
pub const READ: u64 = 22;
/// Writes to a file descriptor.
pub const WRITE: u64 = 23;
/// Moves a file descriptor's offset.
pub const SEEK: u64 = 24;
/// A device-specific request.
pub const IOCTL: u64 = 25;
/// Describes a path.
pub const STAT: u64 = 26;
/// Describes an open file.
pub const FSTAT: u64 = 27;
/// Reads directory entries.
pub const READDIR: u64 = 28;
/// Duplicates a file descriptor onto another number.
pub const DUP2: u64 = 29;
/// Creates a pipe.
pub const PIPE: u64 = 30;
/// Creates a directory.
pub const MKDIR: u64 = 31;
/// Removes a file or an empty directory.
pub const UNLINK: u64 = 32;
/// Writes every cached block back to its device.
pub const SYNC: u64 = 33;
/// Changes the working directory.
pub const CHDIR: u64 = 34;
/// The working directory.
pub const GETCWD: u64 = 35;
/// Sets an open file's length.
pub const TRUNCATE: u64 = 36;
/// Creates an IPC endpoint.
pub const ENDPOINT_CREATE: u64 = 40;
/// Sends a message on an endpoint and waits for the reply.
pub const CALL: u64 = 41;
/// Waits for a message on an endpoint.
pub const RECV: u64 = 42;
/// Replies to the message last received.
pub const REPLY: u64 = 43;
/// Replies, then waits for the next message.
pub const REPLY_RECV: u64 = 44;
/// Creates a notification object.
pub const NOTIFY_CREATE: u64 = 45;
/// Sets bits in a notification.
pub const NOTIFY_SIGNAL: u64 = 46;
/// Waits for bits in a notification.
pub const NOTIFY_WAIT: u64 = 47;
/// Closes a handle.
pub const HANDLE_CLOSE: u64 = 48;
/// Copies a handle, with the same or fewer rights.
pub const HANDLE_DUP: u64 = 49;
/// Reads a clock.
pub const CLOCK: u64 = 50;
/// Reads the kernel log.
pub const KLOG_READ: u64 = 60;
/// Writes a line to the kernel log.
pub const KLOG_WRITE: u64 = 61;
/// Powers off or reboots.
pub const POWER: u64 = 70;
/// Loads a kernel module.
pub const INIT_MODULE: u64 = 80;
/// Unloads a kernel module.
pub const DELETE_MODULE: u64 = 81;
/// Lists the loaded kernel modules.
pub const MODULE_LIST: u64 = 82;
/// The kernel's own measurements: boot milestones and timer interrupt latency.
pub const KSTATS: u64 = 90;

/// [`WAIT`] flag: return 0 at once when no child has ended.
pub const WNOHANG: u64 = 1;

/// Every call number with its name, for tracing and error messages.
pub const NAMES: &[(u64, &str)] = &[
    (EXIT, "exit"),
    (SPAWN, "spawn"),
    (WAIT, "wait"),
    (GETPID, "getpid"),
    (GETPPID, "getppid"),
    (KILL, "kill"),
    (YIELD, "yield"),
    (SLEEP, "sleep"),
    (PROCLIST, "proclist"),
    (MMAP, "mmap"),
    (MUNMAP, "munmap"),
    (MEMINFO, "meminfo"),
    (OPEN, "open"),
    (CLOSE, "close"),
    (READ, "read"),
    (WRITE, "write"),
    (SEEK, "seek"),
    (IOCTL, "ioctl"),
    (STAT, "stat"),
    (FSTAT, "fstat"),
    (READDIR, "readdir"),
    (DUP2, "dup2"),
    (PIPE, "pipe"),
    (MKDIR, "mkdir"),
    (UNLINK, "unlink"),
    (SYNC, "sync"),
    (CHDIR, "chdir"),
    (GETCWD, "getcwd"),
    (TRUNCATE, "truncate"),
    (ENDPOINT_CREATE, "endpoint_create"),
    (CALL, "call"),
    (RECV, "recv"),
    (REPLY, "reply"),
    (REPLY_RECV, "reply_recv"),
    (NOTIFY_CREATE, "notify_create"),
    (NOTIFY_SIGNAL, "notify_signal"),
    (NOTIFY_WAIT, "notify_wait"),
    (HANDLE_CLOSE, "handle_close"),
    (HANDLE_DUP, "handle_dup"),
    (CLOCK, "clock"),
    (KLOG_READ, "klog_read"),
    (KLOG_WRITE, "klog_write"),
    (POWER, "power"),
    (INIT_MODULE, "init_module"),
    (DELETE_MODULE, "delete_module"),
    (MODULE_LIST, "module_list"),
    (KSTATS, "kstats"),
];

/// The name of call `nr`, if it exists.
pub fn name(nr: u64) -> Option<&'static str> {
    NAMES.iter().find(|&&(n, _)| n == nr).map(|&(_, s)| s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_unique() {
        for (i, a) in super::NAMES.iter().enumerate() {
            for b in &super::NAMES[i + 1..] {
                assert_ne!(a.0, b.0, "{} and {} share a number", a.1, b.1);
            }
        }
    }
}
