//! Processes: start ([`Command`]), wait, kill, exit, and the process list.

use crate::io::Fd;
use crate::raw;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use keel_abi::syscall;
use keel_abi::types::{ProcInfo, SpawnArgs, UserSlice};

/// A process id.
pub type Pid = u32;

/// Ends the calling process with `status`.
pub fn exit(status: i32) -> ! {
    // SAFETY: EXIT touches no user memory and does not return.
    unsafe { raw::syscall1(syscall::EXIT, status as i64 as u64) };
    // The kernel never returns from EXIT; should it, stop here rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// The caller's process id.
pub fn getpid() -> Pid {
    // SAFETY: GETPID touches no user memory.
    unsafe { raw::syscall0(syscall::GETPID) as Pid }
}

/// The caller's parent's process id (0 when it has none).
pub fn getppid() -> Pid {
    // SAFETY: GETPPID touches no user memory.
    unsafe { raw::syscall0(syscall::GETPPID) as Pid }
}

/// Ends process `pid` (its status becomes [`keel_abi::types::STATUS_KILLED`]). A process that is
/// not a descendant needs [`keel_abi::types::CAP_KILL`].
pub fn kill(pid: Pid) -> crate::Result<()> {
    // SAFETY: KILL touches no user memory.
    raw::check(unsafe { raw::syscall1(syscall::KILL, pid as u64) }).map(drop)
}

/// Gives the CPU to another runnable thread.
pub fn yield_now() {
    // SAFETY: YIELD touches no user memory.
    unsafe { raw::syscall0(syscall::YIELD) };
}

/// Sleeps for at least `d`.
pub fn sleep(d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: SLEEP touches no user memory.
    unsafe { raw::syscall1(syscall::SLEEP, ns) };
}

/// Sleeps for at least `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    sleep(Duration::from_millis(ms));
}

/// How a waited-for process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus(pub i32);

impl ExitStatus {
    /// The raw status (0..=255 from `exit`, or 137 / 139).
    pub fn code(self) -> i32 {
        self.0
    }

    /// Exit status 0.
    pub fn success(self) -> bool {
        self.0 == 0
    }

    /// Killed by `KILL` or Ctrl-C ([`keel_abi::types::STATUS_KILLED`]).
    pub fn killed(self) -> bool {
        self.0 == keel_abi::types::STATUS_KILLED
    }

    /// Killed by the kernel for a fault ([`keel_abi::types::STATUS_FAULT`]).
    pub fn faulted(self) -> bool {
        self.0 == keel_abi::types::STATUS_FAULT
    }
}

fn wait_raw(pid: i64, flags: u64) -> crate::Result<Option<(Pid, ExitStatus)>> {
    let mut status: i32 = 0;
    // SAFETY: the kernel writes one i32 to `status`, a local we own.
    let r = unsafe {
        raw::syscall3(
            syscall::WAIT,
            pid as u64,
            &mut status as *mut i32 as u64,
            flags,
        )
    };
    match raw::check(r)? {
        0 => Ok(None),
        p => Ok(Some((p as Pid, ExitStatus(status)))),
    }
}

/// Waits for child `pid` to end and reaps it.
pub fn wait(pid: Pid) -> crate::Result<ExitStatus> {
    loop {
        if let Some((_, s)) = wait_raw(pid as i64, 0)? {
            return Ok(s);
        }
    }
}

/// Waits for any child to end and reaps it: its pid and status. `ECHILD` when there are no
/// children.
pub fn wait_any() -> crate::Result<(Pid, ExitStatus)> {
    loop {
        if let Some(r) = wait_raw(-1, 0)? {
            return Ok(r);
        }
    }
}

/// Reaps child `pid` (or any child when `None`) if it has ended, without waiting.
pub fn try_wait(pid: Option<Pid>) -> crate::Result<Option<(Pid, ExitStatus)>> {
    wait_raw(pid.map_or(-1, |p| p as i64), syscall::WNOHANG)
}

/// The processes of the system (as many as fit in the first call plus room for newcomers).
pub fn proclist() -> crate::Result<Vec<ProcInfo>> {
    let mut cap = 32usize;
    loop {
        let mut v = alloc::vec![ProcInfo::default(); cap];
        // SAFETY: the kernel writes at most `cap` entries into `v`, which holds `cap`.
        let r = unsafe { raw::syscall2(syscall::PROCLIST, v.as_mut_ptr() as u64, cap as u64) };
        let n = raw::check(r)? as usize;
        if n <= cap {
            v.truncate(n);
            return Ok(v);
        }
        cap = n + 8;
    }
}

/// Builds and starts a program in a new process.
///
/// By default the child gets argv `[path]`, an empty environment, the caller's descriptors 0, 1,
/// 2 as its own, no capabilities and no handles.
///
/// ```ignore
/// let pid = Command::new("/bin/ls").arg("-l").stdout(fd).spawn()?;
/// let status = process::wait(pid)?;
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    path: String,
    argv: Vec<String>,
    argv0: Option<String>,
    env: Vec<String>,
    fds: [i32; 3],
    caps: u64,
    handles: Vec<u32>,
}

impl Command {
    /// A command that runs the executable at `path`.
    pub fn new(path: &str) -> Command {
        Command {
            path: String::from(path),
            argv: Vec::new(),
            argv0: None,
            env: Vec::new(),
            fds: [0, 1, 2],
            caps: 0,
            handles: Vec::new(),
        }
    }

    /// Sets `argv[0]` (default: the path).
    pub fn arg0(&mut self, name: &str) -> &mut Command {
        self.argv0 = Some(String::from(name));
        self
    }

    /// Adds an argument.
    pub fn arg(&mut self, a: &str) -> &mut Command {
        self.argv.push(String::from(a));
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.argv
            .extend(args.into_iter().map(|a| String::from(a.as_ref())));
        self
    }

    /// Adds an environment entry `NAME=value`.
    pub fn env(&mut self, entry: &str) -> &mut Command {
        self.env.push(String::from(entry));
        self
    }

    /// Adds environment entries (`NAME=value` each), e.g. `Env::current()`.
    pub fn envs<I, S>(&mut self, entries: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.env
            .extend(entries.into_iter().map(|a| String::from(a.as_ref())));
        self
    }

    /// The caller's descriptor that becomes the child's stdin (-1: closed).
    pub fn stdin(&mut self, fd: Fd) -> &mut Command {
        self.fds[0] = fd;
        self
    }

    /// The caller's descriptor that becomes the child's stdout (-1: closed).
    pub fn stdout(&mut self, fd: Fd) -> &mut Command {
        self.fds[1] = fd;
        self
    }

    /// The caller's descriptor that becomes the child's stderr (-1: closed).
    pub fn stderr(&mut self, fd: Fd) -> &mut Command {
        self.fds[2] = fd;
        self
    }

    /// The capabilities to give ([`keel_abi::types::CAP_POWER`]...): a subset of the caller's.
    pub fn caps(&mut self, caps: u64) -> &mut Command {
        self.caps = caps;
        self
    }

    /// Copies a handle into the child; the first becomes its handle 0, and so on. The handle
    /// needs [`keel_abi::ipc::RIGHT_DUP`].
    pub fn handle(&mut self, h: u32) -> &mut Command {
        self.handles.push(h);
        self
    }

    /// Starts the process; its pid.
    pub fn spawn(&self) -> crate::Result<Pid> {
        let slice = |s: &str| UserSlice {
            ptr: s.as_ptr() as u64,
            len: s.len() as u64,
        };
        let mut argv: Vec<UserSlice> = Vec::with_capacity(self.argv.len() + 1);
        argv.push(slice(self.argv0.as_deref().unwrap_or(&self.path)));
        argv.extend(self.argv.iter().map(|a| slice(a)));
        let envp: Vec<UserSlice> = self.env.iter().map(|e| slice(e)).collect();
        let args = SpawnArgs {
            path: slice(&self.path),
            argv: argv.as_ptr() as u64,
            argc: argv.len() as u64,
            envp: envp.as_ptr() as u64,
            envc: envp.len() as u64,
            fds: self.fds,
            reserved: 0,
            caps: self.caps,
            handles: self.handles.as_ptr() as u64,
            handle_count: self.handles.len() as u64,
        };
        // SAFETY: every pointer in `args` names memory owned by `self`, `argv` or `envp`, all alive
        // across the call; the kernel only reads it.
        let r = unsafe { raw::syscall1(syscall::SPAWN, &args as *const SpawnArgs as u64) };
        raw::check(r).map(|p| p as Pid)
    }

    /// Starts the process and waits for it.
    pub fn status(&self) -> crate::Result<ExitStatus> {
        wait(self.spawn()?)
    }
}
