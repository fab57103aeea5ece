//! `#[repr(C)]` structures and flag values that system calls exchange with user programs.
//!
//! Pointers inside these structures are user virtual addresses stored as `u64`, so the layout is
//! the same on every side (the kernel, user programs, host tools).

/// A string or byte slice in the caller's memory: address and length.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserSlice {
    /// Address of the first byte.
    pub ptr: u64,
    /// Length in bytes.
    pub len: u64,
}

/// What [`crate::syscall::SPAWN`] starts.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SpawnArgs {
    /// Path of the executable.
    pub path: UserSlice,
    /// Address of `argc` [`UserSlice`]s: the arguments, `argv[0]` first.
    pub argv: u64,
    /// Number of arguments.
    pub argc: u64,
    /// Address of `envc` [`UserSlice`]s, each `NAME=value`.
    pub envp: u64,
    /// Number of environment entries.
    pub envc: u64,
    /// The caller's descriptors that become the child's 0, 1 and 2 (-1: leave closed).
    pub fds: [i32; 3],
    /// Reserved, 0.
    pub reserved: u32,
    /// Capabilities ([`CAP_POWER`]...) to give the child; must be a subset of the caller's.
    pub caps: u64,
    /// Address of `handle_count` `u32` handles of the caller, copied into the child as its handles
    /// 0, 1, 2... in this order (each needs [`crate::ipc::RIGHT_DUP`]).
    pub handles: u64,
    /// Number of handles to copy.
    pub handle_count: u64,
}

/// Most arguments plus environment entries a program may be given.
pub const MAX_ARGS: usize = 256;
/// Most bytes of arguments plus environment (strings and pointers) on a new program's stack.
pub const MAX_ARG_BYTES: usize = 64 * 1024;
/// Longest path accepted.
pub const PATH_MAX: usize = 1024;

/// Capability: may power off and reboot.
pub const CAP_POWER: u64 = 1 << 0;
/// Capability: may load and unload kernel modules.
pub const CAP_MODULES: u64 = 1 << 1;
/// Capability: may kill processes that are not its descendants.
pub const CAP_KILL: u64 = 1 << 2;
/// Capability: may read the kernel log.
pub const CAP_KLOG: u64 = 1 << 3;
/// Every capability (what `/sbin/init` starts with).
pub const CAP_ALL: u64 = CAP_POWER | CAP_MODULES | CAP_KILL | CAP_KLOG;

/// Exit status of a process killed by [`crate::syscall::KILL`] or Ctrl-C (128 + 9, as a shell shows it).
pub const STATUS_KILLED: i32 = 137;
/// Exit status of a process killed because it faulted (128 + 11).
pub const STATUS_FAULT: i32 = 139;

/// [`crate::syscall::OPEN`]: read only.
pub const O_RDONLY: u64 = 0;
/// Write only.
pub const O_WRONLY: u64 = 1;
/// Read and write.
pub const O_RDWR: u64 = 2;
/// The access-mode bits of the flags.
pub const O_ACCMODE: u64 = 3;
/// Create the file if it does not exist.
pub const O_CREAT: u64 = 0x40;
/// Fail if [`O_CREAT`] and the file exists.
pub const O_EXCL: u64 = 0x80;
/// Truncate a regular file to length 0.
pub const O_TRUNC: u64 = 0x200;
/// Every write goes to the end.
pub const O_APPEND: u64 = 0x400;
/// Reads and writes return `EAGAIN` instead of waiting.
pub const O_NONBLOCK: u64 = 0x800;
/// Fail unless the path is a directory.
pub const O_DIRECTORY: u64 = 0x1_0000;

/// [`crate::syscall::SEEK`] from the start.
pub const SEEK_SET: u64 = 0;
/// From the current offset.
pub const SEEK_CUR: u64 = 1;
/// From the end.
pub const SEEK_END: u64 = 2;

/// [`crate::syscall::MMAP`]: readable.
pub const PROT_READ: u64 = 1;
/// Writable.
pub const PROT_WRITE: u64 = 2;
/// Executable (never together with [`PROT_WRITE`]).
pub const PROT_EXEC: u64 = 4;

/// [`crate::syscall::CLOCK`]: nanoseconds since the kernel started, never going back.
pub const CLOCK_MONOTONIC: u64 = 1;

/// [`crate::syscall::POWER`]: power off.
pub const POWER_OFF: u64 = 0;
/// Reboot.
pub const POWER_REBOOT: u64 = 1;

/// The kind of a file system object.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File = 1,
    /// A directory.
    Dir = 2,
    /// A character device (a tty, `/dev/null`).
    CharDev = 3,
    /// A block device.
    BlockDev = 4,
    /// A pipe.
    Pipe = 5,
    /// A symbolic link.
    Symlink = 6,
}

impl FileKind {
    /// Decodes a raw kind.
    pub fn from_raw(raw: u32) -> Option<FileKind> {
        Some(match raw {
            1 => FileKind::File,
            2 => FileKind::Dir,
            3 => FileKind::CharDev,
            4 => FileKind::BlockDev,
            5 => FileKind::Pipe,
            6 => FileKind::Symlink,
            _ => return None,
        })
    }
}

/// What [`crate::syscall::STAT`] and [`crate::syscall::FSTAT`] report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// A [`FileKind`] as `u32`.
    pub kind: u32,
    /// Permission bits (`0o755`...).
    pub mode: u32,
    /// Length in bytes (for block devices, the device's size).
    pub size: u64,
    /// Inode number, unique within its file system.
    pub ino: u64,
    /// Device number of a device node (major << 20 | minor), else 0.
    pub rdev: u64,
    /// Identifies the file system.
    pub dev: u64,
}

/// Longest name in a [`DirEntry`].
pub const NAME_MAX: usize = 112;

/// One entry from [`crate::syscall::READDIR`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// A [`FileKind`] as `u32`.
    pub kind: u32,
    /// Bytes of `name` in use.
    pub name_len: u32,
    /// The name (not NUL-terminated).
    pub name: [u8; NAME_MAX],
}

impl Default for DirEntry {
    fn default() -> Self {
        DirEntry {
            ino: 0,
            kind: 0,
            name_len: 0,
            name: [0; NAME_MAX],
        }
    }
}

impl DirEntry {
    /// The name as bytes.
    pub fn name(&self) -> &[u8] {
        &self.name[..(self.name_len as usize).min(NAME_MAX)]
    }
}

/// Longest process name in [`ProcInfo`].
pub const PROC_NAME_MAX: usize = 32;

/// A process's state in [`ProcInfo`].
pub mod proc_state {
    /// Running on a CPU.
    pub const RUNNING: u32 = 0;
    /// Ready to run.
    pub const READY: u32 = 1;
    /// Waiting (sleep, I/O, IPC, a child).
    pub const BLOCKED: u32 = 2;
    /// Ended, not yet reaped by its parent.
    pub const ZOMBIE: u32 = 3;
}

/// One process from [`crate::syscall::PROCLIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProcInfo {
    /// Process id.
    pub pid: u32,
    /// Parent's process id (0: none).
    pub ppid: u32,
    /// One of [`proc_state`].
    pub state: u32,
    /// The CPU it last ran on.
    pub cpu: u32,
    /// Scheduling priority (0 highest).
    pub priority: u32,
    /// Number of threads.
    pub threads: u32,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Bytes of user memory mapped.
    pub mem_bytes: u64,
    /// Bytes of `name` in use.
    pub name_len: u32,
    /// Reserved, 0.
    pub reserved: u32,
    /// The program's name.
    pub name: [u8; PROC_NAME_MAX],
}

impl Default for ProcInfo {
    fn default() -> Self {
        ProcInfo {
            pid: 0,
            ppid: 0,
            state: 0,
            cpu: 0,
            priority: 0,
            threads: 0,
            cpu_ns: 0,
            mem_bytes: 0,
            name_len: 0,
            reserved: 0,
            name: [0; PROC_NAME_MAX],
        }
    }
}

impl ProcInfo {
    /// The name as bytes.
    pub fn name(&self) -> &[u8] {
        &self.name[..(self.name_len as usize).min(PROC_NAME_MAX)]
    }
}

/// What [`crate::syscall::MEMINFO`] reports, in bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// RAM managed by the page allocator.
    pub total: u64,
    /// Of that, free.
    pub free: u64,
    /// The kernel heap's size.
    pub heap_total: u64,
    /// The kernel heap's live allocations.
    pub heap_used: u64,
    /// Pages mapped into user address spaces.
    pub user: u64,
    /// The kernel image.
    pub kernel_image: u64,
}

/// What [`crate::syscall::KSTATS`] reports: moments of the boot and the timer interrupt's
/// latency, all in ticks of the generic counter (`counter_hz` per second, counted from reset).
/// A moment that has not happened yet is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// The counter's frequency (CNTFRQ_EL0), in Hz.
    pub counter_hz: u64,
    /// The counter when the first process (`/sbin/init`) was about to run its first instruction.
    pub init_entered: u64,
    /// The counter when a reader first found the console tty empty: the shell waiting at its
    /// first prompt.
    pub console_waited: u64,
    /// Timer interrupts measured.
    pub timer_irqs: u64,
    /// Sum of their latencies: the counter at the handler minus the deadline it was armed for.
    pub timer_latency_sum: u64,
    /// The shortest latency.
    pub timer_latency_min: u64,
    /// The longest latency.
    pub timer_latency_max: u64,
    /// The counter when the longest latency was measured (its handler ran): tells a long masked
    /// section of the boot from one later.
    pub timer_latency_max_at: u64,
    /// Where the longest-waiting interrupt was taken (ELR_EL1): the end of the section that kept
    /// interrupts masked (a user address just after an `SVC` names the system call).
    pub timer_latency_max_pc: u64,
    /// The latest latencies: interrupt number `n` (counting from 0) is at index
    /// `n % TIMER_LATENCY_RECENT`.
    pub timer_latency_recent: [u64; TIMER_LATENCY_RECENT],
}

/// Entries of [`KernelStats::timer_latency_recent`].
pub const TIMER_LATENCY_RECENT: usize = 32;

/// [`crate::syscall::IOCTL`] on a tty: read its [`Termios`] (argument: `*mut Termios`).
pub const TCGETS: u64 = 0x5401;
/// Set its [`Termios`] (argument: `*const Termios`).
pub const TCSETS: u64 = 0x5402;
/// Make a process the foreground one: Ctrl-C kills it (argument: the pid).
pub const TIOCSPGRP: u64 = 0x5410;

/// Line settings of a tty (a subset of POSIX termios).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Termios {
    /// [`ECHO`], [`ICANON`], [`ISIG`].
    pub lflags: u32,
    /// Baud rate (0: unchanged / not a serial line).
    pub baud: u32,
    /// Data bits (5..8).
    pub data_bits: u8,
    /// Stop bits (1 or 2).
    pub stop_bits: u8,
    /// Parity: 0 none, 1 odd, 2 even.
    pub parity: u8,
    /// Reserved, 0.
    pub reserved: u8,
}

/// Highest baud rate a [`Termios`] may ask for.
pub const BAUD_MAX: u32 = 4_000_000;

impl Termios {
    /// A console's settings at boot: 115200 baud, 8 data bits, no parity, 1 stop bit, cooked
    /// (echo, line editing, Ctrl-C).
    pub const CONSOLE: Termios = Termios {
        lflags: ECHO | ICANON | ISIG,
        baud: 115_200,
        data_bits: 8,
        stop_bits: 1,
        parity: 0,
        reserved: 0,
    };

    /// Whether the line fields (baud rate, data bits, stop bits, parity) equal `other`'s.
    pub fn same_line(&self, other: &Termios) -> bool {
        (self.baud, self.data_bits, self.stop_bits, self.parity)
            == (other.baud, other.data_bits, other.stop_bits, other.parity)
    }

    /// Checks a [`TCSETS`] argument: only [`ECHO`], [`ICANON`], [`ISIG`] in `lflags`, a baud
    /// rate in `1..=BAUD_MAX`, 5 to 8 data bits, 1 or 2 stop bits, parity 0 (none), 1 (odd) or
    /// 2 (even), `reserved` 0. Errors: `EINVAL`. (A driver may refuse more: a rate its clock
    /// cannot divide down to.)
    pub fn check(&self) -> Result<(), crate::Errno> {
        let ok = self.lflags & !(ECHO | ICANON | ISIG) == 0
            && (1..=BAUD_MAX).contains(&self.baud)
            && (5..=8).contains(&self.data_bits)
            && (1..=2).contains(&self.stop_bits)
            && self.parity <= 2
            && self.reserved == 0;
        if ok {
            Ok(())
        } else {
            Err(crate::Errno::EINVAL)
        }
    }
}

/// Echo input characters.
pub const ECHO: u32 = 1 << 0;
/// Line mode: reads return whole lines, backspace edits the line.
pub const ICANON: u32 = 1 << 1;
/// Ctrl-C kills the foreground process.
pub const ISIG: u32 = 1 << 2;

/// Longest module name in [`ModuleInfo`].
pub const MODULE_NAME_MAX: usize = 32;

/// A module's state in [`ModuleInfo`].
pub mod module_state {
    /// Loaded and initialised.
    pub const LIVE: u32 = 0;
    /// Being loaded (init running).
    pub const LOADING: u32 = 1;
    /// Being removed (exit running).
    pub const UNLOADING: u32 = 2;
    /// It faulted; its devices return errors.
    pub const FAILED: u32 = 3;
}

/// One module from [`crate::syscall::MODULE_LIST`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ModuleInfo {
    /// Bytes of memory the module occupies.
    pub size: u64,
    /// How many users hold it (open devices, dependent modules).
    pub refcount: u32,
    /// One of [`module_state`].
    pub state: u32,
    /// Bytes of `name` in use.
    pub name_len: u32,
    /// Bytes of `used_by` in use.
    pub used_by_len: u32,
    /// The module's name.
    pub name: [u8; MODULE_NAME_MAX],
    /// Comma-separated names of the modules that depend on it.
    pub used_by: [u8; 96],
}

impl Default for ModuleInfo {
    fn default() -> Self {
        ModuleInfo {
            size: 0,
            refcount: 0,
            state: 0,
            name_len: 0,
            used_by_len: 0,
            name: [0; MODULE_NAME_MAX],
            used_by: [0; 96],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;

    fn line() -> Termios {
        Termios::CONSOLE
    }

    #[test]
    fn termios_checks_every_field() {
        assert_eq!(line().check(), Ok(()));
        assert_eq!(
            Termios {
                data_bits: 5,
                stop_bits: 2,
                parity: 2,
                baud: 50,
                lflags: 0,
                ..line()
            }
            .check(),
            Ok(())
        );
        let bad = [
            Termios {
                lflags: 1 << 9,
                ..line()
            },
            Termios { baud: 0, ..line() },
            Termios {
                baud: BAUD_MAX + 1,
                ..line()
            },
            Termios {
                data_bits: 4,
                ..line()
            },
            Termios {
                data_bits: 9,
                ..line()
            },
            Termios {
                stop_bits: 0,
                ..line()
            },
            Termios {
                stop_bits: 3,
                ..line()
            },
            Termios {
                parity: 3,
                ..line()
            },
            Termios {
                reserved: 1,
                ..line()
            },
        ];
        for t in bad {
            assert_eq!(t.check(), Err(Errno::EINVAL), "{t:?}");
        }
    }

    #[test]
    fn same_line_ignores_the_local_flags() {
        let raw = Termios {
            lflags: 0,
            ..line()
        };
        assert!(raw.same_line(&line()));
        assert!(!Termios {
            baud: 9600,
            ..line()
        }
        .same_line(&line()));
        assert!(!Termios {
            parity: 1,
            ..line()
        }
        .same_line(&line()));
    }
}
