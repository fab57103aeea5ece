//! User processes: one address space, one thread, descriptors, handles and capabilities each.
//!
//! A process is started by [`spawn`] from an executable file: the ELF is checked
//! ([`keel_core::exec`]) before anything is allocated, its segments are copied into a fresh address
//! space with W^X permissions, and the arguments and environment are laid out on a new stack
//! ([`keel_core::userstack`]). It ends by `exit`, by `kill`, or by a fault, which the kernel reports
//! with the process's name and the fault's cause and turns into exit status 139. Its parent reaps it
//! with `wait`; orphans go to `init` (pid 1).

pub mod aspace;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use keel_abi::ipc::{MAX_HANDLES, RIGHT_RECV};
use keel_abi::types::{proc_state, ProcInfo, CAP_ALL, PROC_NAME_MAX, STATUS_FAULT, STATUS_KILLED};
use keel_abi::Errno;
use keel_core::handles::HandleTable;
use keel_core::pagetable::Perm;

use crate::arch::exceptions::TrapFrame;
use crate::ipc::Object;
use crate::sched::{self, State, Thread, WaitQueue, PRIO_USER};
use crate::sync::IrqMutex;
use aspace::{AddressSpace, USER_END, USER_STACK_SIZE, USER_STACK_TOP};

/// Registers a new process starts with.
#[derive(Clone, Copy, Default)]
struct StartRegs {
    entry: u64,
    sp: u64,
    x: [u64; 4],
}

/// Lifecycle data of a process, under its lock.
struct Life {
    children: Vec<u32>,
    exit_status: Option<i32>,
    thread: Option<Arc<Thread>>,
}

/// A user process.
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Parent's pid (0 for none); outside the lock so that `GETPPID` takes none. Changes only
    /// when the parent ends (to 1, before `init` is told about its new child).
    parent: AtomicU32,
    /// The program's name (its file name).
    pub name: String,
    /// The address space.
    pub aspace: AddressSpace,
    /// Capabilities (`CAP_*`).
    pub caps: u64,
    life: IrqMutex<Life>,
    start: IrqMutex<Option<StartRegs>>,
    /// Open files.
    pub files: spin::Mutex<crate::fs::FdTable>,
    /// Working directory (absolute, canonical).
    pub cwd: spin::Mutex<String>,
    /// IPC handles.
    pub handles: IrqMutex<HandleTable<Object, MAX_HANDLES>>,
    /// Signalled when a child ends.
    child_exited: WaitQueue,
}

static PROCS: IrqMutex<BTreeMap<u32, Arc<Process>>> = IrqMutex::new(BTreeMap::new());
static NEXT_PID: AtomicU32 = AtomicU32::new(1);

/// The process with `pid`, if it exists (zombies included).
pub fn get(pid: u32) -> Option<Arc<Process>> {
    PROCS.lock().get(&pid).cloned()
}

/// The calling thread's process; `None` for kernel threads.
pub fn current() -> Option<Arc<Process>> {
    sched::with_current(|t| t.process.as_ref().cloned())
}

impl Process {
    /// Parent's pid (0 for none).
    pub fn parent(&self) -> u32 {
        self.parent.load(Ordering::Acquire)
    }

    /// The exit status once it ended.
    pub fn exit_status(&self) -> Option<i32> {
        self.life.lock().exit_status
    }

    /// Kills the process because its terminal said so (Ctrl-C).
    pub fn kill_by_tty(&self) {
        if self.pid == 1 {
            return;
        }
        let thread = self.life.lock().thread.clone();
        if let Some(t) = thread {
            t.kill();
        }
    }

    /// A snapshot for `ps`.
    pub fn info(&self) -> ProcInfo {
        let life = self.life.lock();
        let mut info = ProcInfo {
            pid: self.pid,
            ppid: self.parent(),
            ..ProcInfo::default()
        };
        match &life.thread {
            Some(t) => {
                info.state = match t.state() {
                    State::Running => proc_state::RUNNING,
                    State::Ready => proc_state::READY,
                    State::Blocked => proc_state::BLOCKED,
                    State::Dead => proc_state::ZOMBIE,
                };
                info.cpu = t.cpu.load(Ordering::Relaxed) as u32;
                info.priority = u32::from(t.priority);
                info.threads = 1;
                info.cpu_ns = t.cpu_nanos();
            }
            None => info.state = proc_state::ZOMBIE,
        }
        info.mem_bytes = self.aspace.mapped_bytes();
        let n = self.name.len().min(PROC_NAME_MAX);
        info.name[..n].copy_from_slice(&self.name.as_bytes()[..n]);
        info.name_len = n as u32;
        info
    }
}

/// What a new process gets.
pub struct SpawnRequest<'a> {
    /// The executable's bytes.
    pub image: &'a [u8],
    /// Its name (for `ps` and reports).
    pub name: &'a str,
    /// Arguments, `argv[0]` first.
    pub args: &'a [&'a [u8]],
    /// Environment entries.
    pub env: &'a [&'a [u8]],
    /// The parent's pid (0 for the first process).
    pub parent: u32,
    /// Capabilities.
    pub caps: u64,
    /// Descriptor table.
    pub files: crate::fs::FdTable,
    /// Working directory.
    pub cwd: String,
    /// Handles, numbered 0.. in the new process.
    pub handles: Vec<(Object, u32)>,
}

/// Bytes of a program's segment [`spawn`] copies between two interrupt windows.
const SPAWN_COPY_STEP: usize = 32 * 1024;

/// Creates a process from an executable image and starts its thread; returns its pid. Call it
/// where the caller could sleep (no lock held): it lets interrupts in between steps.
pub fn spawn(req: SpawnRequest<'_>) -> Result<u32, Errno> {
    let exe = keel_core::exec::parse(
        req.image,
        aspace::USER_START,
        USER_STACK_TOP - USER_STACK_SIZE,
    )
    .map_err(|e| {
        log::warn!(target: "exec", "{}: {e}", req.name);
        Errno::ENOEXEC
    })?;
    let mut stack = Vec::new();
    let layout = keel_core::userstack::build(USER_STACK_TOP, req.args, req.env, &mut stack)
        .map_err(|e| {
            log::warn!(target: "exec", "{}: {e}", req.name);
            Errno::E2BIG
        })?;

    let aspace = AddressSpace::new()?;
    crate::sync::interrupt_window();
    for seg in exe.segments() {
        let start = seg.vaddr & !(crate::mm::PAGE_SIZE - 1);
        let end = (seg.vaddr + seg.memsz).next_multiple_of(crate::mm::PAGE_SIZE);
        aspace.map_zeroed_in_steps(start, end - start, Perm::new(seg.write, seg.exec, true))?;
        let data = &req.image[seg.offset as usize..(seg.offset + seg.filesz) as usize];
        let mut at = seg.vaddr;
        for piece in data.chunks(SPAWN_COPY_STEP) {
            aspace.write_initial(at, piece)?;
            at += piece.len() as u64;
            crate::sync::interrupt_window();
        }
        if seg.exec {
            aspace.sync_icache(start, end - start)?;
        }
        crate::sync::interrupt_window();
    }
    aspace.map_zeroed_in_steps(USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE, Perm::RW)?;
    aspace.write(layout.sp, &stack)?;
    const { assert!(USER_STACK_TOP < USER_END) };

    let mut handles = HandleTable::new();
    for (obj, rights) in req.handles {
        if let (Object::Endpoint(ep), true) = (&obj, rights & RIGHT_RECV != 0) {
            ep.receiver_opened();
        }
        handles.insert(obj, rights).map_err(|_| Errno::EMFILE)?;
    }

    let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
    let process = Arc::new(Process {
        pid,
        name: String::from(req.name),
        aspace,
        caps: req.caps,
        parent: AtomicU32::new(req.parent),
        life: IrqMutex::new(Life {
            children: Vec::new(),
            exit_status: None,
            thread: None,
        }),
        start: IrqMutex::new(Some(StartRegs {
            entry: exe.entry,
            sp: layout.sp,
            x: [layout.argc, layout.argv, layout.envc, layout.envp],
        })),
        files: spin::Mutex::new(req.files),
        cwd: spin::Mutex::new(req.cwd),
        handles: IrqMutex::new(handles),
        child_exited: WaitQueue::new(),
    });
    let thread = Thread::new(
        req.name,
        PRIO_USER,
        user_thread_start,
        0,
        Some(process.clone()),
    )
    .ok_or_else(|| {
        release_resources(&process);
        Errno::ENOMEM
    })?;
    process.life.lock().thread = Some(thread.clone());
    PROCS.lock().insert(pid, process.clone());
    if let Some(parent) = get(req.parent) {
        parent.life.lock().children.push(pid);
    }
    sched::start(&thread);
    Ok(pid)
}

/// The first kernel code of a user thread: builds its trap frame and drops to EL0.
extern "C" fn user_thread_start(_: usize) {
    extern "C" {
        fn enter_user(frame: *const TrapFrame) -> !;
    }
    let t = sched::current();
    let p = t
        .process
        .as_ref()
        .expect("a user thread has a process")
        .clone();
    let regs = p.start.lock().take().unwrap_or_default();
    let frame_addr = t.user_frame().expect("a user thread has a trap frame");
    let mut frame = TrapFrame {
        x: [0; 31],
        sp: regs.sp,
        elr: regs.entry,
        spsr: 0, // EL0t, interrupts unmasked
        esr: 0,
        far: 0,
    };
    frame.x[..4].copy_from_slice(&regs.x);
    // SAFETY: the top of a user thread's kernel stack is reserved for its trap frame
    // (`Thread::new` starts the thread's kernel code below it).
    unsafe { (frame_addr as *mut TrapFrame).write(frame) };
    crate::kstats::user_entered(p.pid);
    drop(p);
    drop(t);
    crate::sync::irq_save();
    // SAFETY: the frame is a valid EL0 context of this process, whose address space is active.
    unsafe { enter_user(frame_addr as *const TrapFrame) }
}

/// Frees what a process holds besides its table entry and address-space object.
fn release_resources(p: &Process) {
    p.files.lock().close_all();
    let objs: Vec<(Object, u32)> = {
        let mut table = p.handles.lock();
        let objs = table.iter().map(|(_, o, r)| (o.clone(), r)).collect();
        drop(table.clear());
        objs
    };
    for (obj, rights) in objs {
        if let (Object::Endpoint(ep), true) = (&obj, rights & RIGHT_RECV != 0) {
            ep.receiver_closed();
        }
    }
}

/// Ends the calling process with `status`.
pub fn exit_current(status: i32) -> ! {
    let t = sched::current();
    if let Some(p) = t.process.as_ref().cloned() {
        t.ipc.abandon();
        crate::proc::aspace::activate_kernel_only();
        finish(&p, status);
    }
    drop(t);
    sched::exit_current()
}

fn finish(p: &Arc<Process>, status: i32) {
    release_resources(p);
    p.aspace.release_all();
    let (parent, children) = {
        let mut life = p.life.lock();
        life.exit_status = Some(status);
        life.thread = None;
        (p.parent(), core::mem::take(&mut life.children))
    };
    if p.pid == 1 {
        panic!("init (pid 1) exited with status {status}");
    }
    // Orphans go to init.
    if !children.is_empty() {
        if let Some(init) = get(1) {
            for &c in &children {
                if let Some(child) = get(c) {
                    child.parent.store(1, Ordering::Release);
                }
            }
            init.life.lock().children.extend_from_slice(&children);
            init.child_exited.wake_all();
        }
    }
    if let Some(parent) = get(parent) {
        parent.child_exited.wake_all();
    }
}

/// Ends process `pid` as if it had been killed; `by` is the caller (for the permission check).
pub fn kill(pid: u32, by: &Process) -> Result<(), Errno> {
    let target = get(pid).ok_or(Errno::ESRCH)?;
    if pid == 1 {
        return Err(Errno::EPERM);
    }
    if by.caps & keel_abi::types::CAP_KILL == 0 && !is_descendant(pid, by.pid) {
        return Err(Errno::EPERM);
    }
    let thread = target.life.lock().thread.clone();
    match thread {
        Some(t) => {
            t.kill();
            Ok(())
        }
        None => Err(Errno::ESRCH),
    }
}

fn is_descendant(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        match get(pid).map(|p| p.parent()) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent != 0 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// Waits for a child of `me` (`pid` or any when -1) to end; returns (pid, status).
pub fn wait(me: &Arc<Process>, pid: i64, nohang: bool) -> Result<Option<(u32, i32)>, Errno> {
    let find = || -> Result<Option<(u32, i32)>, Errno> {
        let children = me.life.lock().children.clone();
        let mut any = false;
        for c in children {
            if pid >= 0 && c as i64 != pid {
                continue;
            }
            any = true;
            if let Some(child) = get(c) {
                if let Some(status) = child.exit_status() {
                    return Ok(Some((c, status)));
                }
            }
        }
        if any {
            Ok(None)
        } else {
            Err(Errno::ECHILD)
        }
    };
    let found = if nohang {
        find()?
    } else {
        let r = me.child_exited.wait_until(|| match find() {
            Ok(None) => None,
            other => Some(other),
        });
        Some(r.map_err(|_| Errno::EINTR)??.ok_or(Errno::ECHILD)?)
    };
    if let Some((c, _)) = found {
        me.life.lock().children.retain(|&x| x != c);
        PROCS.lock().remove(&c);
    }
    Ok(found)
}

/// Kills the current process because of a fault it took at EL0; prints the report.
pub fn fault_current(frame: &TrapFrame, what: &str) -> ! {
    if let Some(p) = current() {
        let esr = keel_core::esr::Esr(frame.esr);
        let far = if esr.fault_status().is_some()
            || esr.class() == keel_core::esr::ExceptionClass::PcAlignment
        {
            alloc::format!(", address {:#x}", frame.far)
        } else {
            alloc::string::String::new()
        };
        log::error!(
            target: "fault",
            "process {} ({}) killed: {what}; pc {:#x}, sp {:#x}{far}",
            p.pid,
            p.name,
            frame.elr,
            frame.sp,
        );
    }
    exit_current(STATUS_FAULT)
}

/// Called on every return to user space, with interrupts masked (the exception entry masks them,
/// and every window a handler opens closes again): leave if killed, switch if the slice ended.
pub fn return_to_user() {
    debug_assert!(
        crate::sync::irqs_masked(),
        "return to user space with interrupts unmasked"
    );
    loop {
        // SAFETY: interrupts are masked (above), and the borrow ends with this line.
        if unsafe { sched::current_masked() }.killed() {
            exit_current(STATUS_KILLED);
        }
        if !sched::need_resched() {
            return;
        }
        sched::schedule();
    }
}

/// Every process, for `ps`.
pub fn list() -> Vec<ProcInfo> {
    let procs: Vec<Arc<Process>> = PROCS.lock().values().cloned().collect();
    procs.iter().map(|p| p.info()).collect()
}

/// Starts the first user process, `path`, with every capability.
pub fn start_init(path: &str, image: &[u8], files: crate::fs::FdTable) -> Result<u32, Errno> {
    spawn(SpawnRequest {
        image,
        name: path.rsplit('/').next().unwrap_or(path),
        args: &[path.as_bytes()],
        env: &[b"PATH=/bin:/sbin", b"HOME=/"],
        parent: 0,
        caps: CAP_ALL,
        files,
        cwd: String::from("/"),
        handles: Vec::new(),
    })
}
