//! System calls: `svc #0` from EL0, number in `x8`, arguments in `x0`..`x5`, result in `x0`.
//!
//! The numbers and structures are defined once in `keel_abi::syscall` and `keel_abi::types`. Every
//! pointer a program passes is checked against its address space by [`AddressSpace::read`] and
//! friends, so a bad pointer is `EFAULT`, never a kernel fault; every other argument is checked
//! before anything changes.
//!
//! [`AddressSpace::read`]: crate::proc::aspace::AddressSpace::read

mod fs;

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::ipc::{
    IpcBuffers, MSG_MAX, RIGHTS_ALL, RIGHT_DUP, RIGHT_RECV, RIGHT_SEND, RIGHT_SIGNAL, RIGHT_WAIT,
};
use keel_abi::syscall as nr;
use keel_abi::types::{self, MemInfo, ProcInfo, SpawnArgs, UserSlice};
use keel_abi::Errno;
use keel_core::handles::HandleError;
use keel_core::pagetable::Perm;

use crate::arch::exceptions::TrapFrame;
use crate::ipc::{self, Endpoint, Message, Notification, Object};
use crate::proc::{self, Process};
use crate::sched::Thread;

type SysResult = Result<u64, Errno>;

/// Called by the exception entry for system calls before the general handler (`CALL` and
/// `REPLY_RECV` go to the IPC fast path instead, [`ipc::fast`]): completes the calls that need
/// neither the process's reference count nor anything that may block (then true: the entry
/// returns to user space at once). False leaves the call, unchanged, to [`dispatch`].
#[no_mangle]
extern "C" fn syscall_early(frame: &mut TrapFrame) -> bool {
    match frame.x[8] {
        // Calls that only read the process's own fields borrow it, without a reference count.
        nr::GETPID | nr::GETPPID => {
            let getpid = frame.x[8] == nr::GETPID;
            let r = crate::sched::with_current(|t| {
                t.process
                    .as_ref()
                    .map(|p| if getpid { p.pid } else { p.parent() })
            });
            frame.x[0] = r.map_or(Errno::ENOSYS.to_ret() as u64, u64::from);
            proc::return_to_user();
            true
        }
        nr::YIELD => {
            crate::sched::yield_now();
            frame.x[0] = 0;
            proc::return_to_user();
            true
        }
        _ => false,
    }
}

/// Handles the system call described by `frame` and writes its result into it.
pub fn dispatch(frame: &mut TrapFrame) {
    let Some(p) = proc::current() else {
        frame.x[0] = Errno::ENOSYS.to_ret() as u64;
        return;
    };
    let a = [
        frame.x[0], frame.x[1], frame.x[2], frame.x[3], frame.x[4], frame.x[5],
    ];
    let r: SysResult = match frame.x[8] {
        nr::EXIT => proc::exit_current(a[0] as i32),
        nr::SPAWN => spawn(&p, a[0]),
        nr::WAIT => wait(&p, a[0] as i64, a[1], a[2]),
        nr::KILL => u32::try_from(a[0])
            .map_err(|_| Errno::ESRCH)
            .and_then(|pid| proc::kill(pid, &p))
            .map(|()| 0),
        nr::SLEEP => {
            if crate::sched::sleep(a[0]) {
                Ok(0)
            } else {
                Err(Errno::EINTR)
            }
        }
        nr::PROCLIST => proclist(&p, a[0], a[1]),
        nr::MMAP => mmap(&p, a[0], a[1]),
        nr::MUNMAP => p.aspace.unmap(a[0], a[1]).map(|()| 0),
        nr::MEMINFO => meminfo(&p, a[0]),
        nr::ENDPOINT_CREATE => {
            let ep = Endpoint::new();
            ep.receiver_opened();
            let r = p
                .handles
                .lock()
                .insert(Object::Endpoint(ep.clone()), RIGHTS_ALL);
            if r.is_err() {
                ep.receiver_closed();
            }
            r.map(u64::from).map_err(handle_errno)
        }
        nr::CALL => return call(&p, frame),
        nr::RECV => return recv(&p, frame, a[0], None),
        nr::REPLY => reply(&p, frame, true).map(|_| 0),
        nr::REPLY_RECV => match reply(&p, frame, false) {
            Ok(caller) => return recv(&p, frame, a[0], caller),
            Err(e) => Err(e),
        },
        nr::NOTIFY_CREATE => p
            .handles
            .lock()
            .insert(Object::Notification(Notification::new()), RIGHTS_ALL)
            .map(u64::from)
            .map_err(handle_errno),
        nr::NOTIFY_SIGNAL => notification(&p, a[0], RIGHT_SIGNAL).map(|n| {
            n.signal(a[1]);
            0
        }),
        nr::NOTIFY_WAIT => notification(&p, a[0], RIGHT_WAIT).and_then(|n| n.wait()),
        nr::HANDLE_CLOSE => close_handle(&p, a[0]).map(|()| 0),
        nr::HANDLE_DUP => dup_handle(&p, a[0], a[1]),
        nr::CLOCK => match a[0] {
            types::CLOCK_MONOTONIC => Ok(crate::time::uptime_nanos()),
            _ => Err(Errno::EINVAL),
        },
        nr::KLOG_READ => klog_read(&p, a[0], a[1], a[2]),
        nr::KLOG_WRITE => klog_write(&p, a[0], a[1]),
        nr::POWER => power(&p, a[0]),
        nr::INIT_MODULE => crate::module::syscall::init_module(&p, a[0], a[1], a[2], a[3]),
        nr::DELETE_MODULE => crate::module::syscall::delete_module(&p, a[0], a[1], a[2]),
        nr::MODULE_LIST => crate::module::syscall::module_list(&p, a[0], a[1]),
        nr::KSTATS => p
            .aspace
            .write_val(a[0], &crate::kstats::snapshot())
            .map(|()| 0),
        n => match fs::dispatch(&p, n, a) {
            Some(r) => r,
            None => Err(Errno::ENOSYS),
        },
    };
    frame.x[0] = match r {
        Ok(v) => v,
        Err(e) => e.to_ret() as u64,
    };
}

fn handle_errno(e: HandleError) -> Errno {
    match e {
        HandleError::Full => Errno::EMFILE,
        HandleError::MissingRights { .. } => Errno::EPERM,
        _ => Errno::EBADH,
    }
}

fn spawn(p: &Arc<Process>, args_ptr: u64) -> SysResult {
    let args: SpawnArgs = p.aspace.read_val(args_ptr)?;
    let path = read_str(p, args.path)?;
    let argc = args.argc as usize;
    let envc = args.envc as usize;
    if argc + envc > types::MAX_ARGS {
        return Err(Errno::E2BIG);
    }
    let mut total = 0usize;
    let mut read_list = |ptr: u64, count: usize| -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let s: UserSlice = p
                .aspace
                .read_val(ptr.checked_add((i * 16) as u64).ok_or(Errno::EFAULT)?)?;
            total = total.saturating_add(s.len as usize + 16);
            if total > types::MAX_ARG_BYTES {
                return Err(Errno::E2BIG);
            }
            out.push(p.aspace.read_bytes(s.ptr, s.len, types::MAX_ARG_BYTES)?);
        }
        Ok(out)
    };
    let argv = read_list(args.argv, argc)?;
    let envv = read_list(args.envp, envc)?;
    if args.caps & !p.caps != 0 {
        return Err(Errno::EPERM);
    }
    let count = args.handle_count as usize;
    if count > keel_abi::ipc::MAX_HANDLES {
        return Err(Errno::EINVAL);
    }
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let h: u32 = p.aspace.read_val(
            args.handles
                .checked_add((i * 4) as u64)
                .ok_or(Errno::EFAULT)?,
        )?;
        let table = p.handles.lock();
        let obj = table.get(h, RIGHT_DUP).map_err(handle_errno)?.clone();
        let rights = table.rights(h).map_err(handle_errno)?;
        handles.push((obj, rights));
    }
    let cwd = p.cwd.lock().clone();
    let image = fs::read_whole_file(p, &cwd, &path)?;
    let image: &[u8] = &image;
    let files = p
        .files
        .lock()
        .clone_for_spawn(&args.fds)
        .map_err(|_| Errno::EBADF)?;
    let name = path.rsplit('/').next().unwrap_or(&path);
    let arg_refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let env_refs: Vec<&[u8]> = envv.iter().map(Vec::as_slice).collect();
    proc::spawn(proc::SpawnRequest {
        image,
        name,
        args: &arg_refs,
        env: &env_refs,
        parent: p.pid,
        caps: args.caps,
        files,
        cwd,
        handles,
    })
    .map(u64::from)
}

fn read_str(p: &Process, s: UserSlice) -> Result<alloc::string::String, Errno> {
    let bytes = p.aspace.read_bytes(s.ptr, s.len, types::PATH_MAX)?;
    alloc::string::String::from_utf8(bytes).map_err(|_| Errno::EINVAL)
}

fn wait(p: &Arc<Process>, pid: i64, status_ptr: u64, flags: u64) -> SysResult {
    if flags & !nr::WNOHANG != 0 {
        return Err(Errno::EINVAL);
    }
    match proc::wait(p, pid, flags & nr::WNOHANG != 0)? {
        Some((child, status)) => {
            if status_ptr != 0 {
                p.aspace.write_val(status_ptr, &status)?;
            }
            Ok(u64::from(child))
        }
        None => Ok(0),
    }
}

fn proclist(p: &Process, ptr: u64, cap: u64) -> SysResult {
    let list = proc::list();
    let size = core::mem::size_of::<ProcInfo>() as u64;
    for (i, info) in list.iter().enumerate().take(cap as usize) {
        p.aspace.write_val(ptr + i as u64 * size, info)?;
    }
    Ok(list.len() as u64)
}

fn mmap(p: &Process, len: u64, prot: u64) -> SysResult {
    if prot & !(types::PROT_READ | types::PROT_WRITE | types::PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let write = prot & types::PROT_WRITE != 0;
    let exec = prot & types::PROT_EXEC != 0;
    if write && exec {
        return Err(Errno::EACCES);
    }
    p.aspace.map_anywhere(len, Perm::new(write, exec, true))
}

fn meminfo(p: &Process, ptr: u64) -> SysResult {
    let (total, allocated) = crate::mm::phys::stats();
    let (heap_used, heap_total) = crate::mm::heap::stats();
    let info = MemInfo {
        total: total * crate::mm::PAGE_SIZE,
        free: (total - allocated) * crate::mm::PAGE_SIZE,
        heap_total: heap_total as u64,
        heap_used: heap_used as u64,
        user: proc::aspace::user_bytes(),
        kernel_image: crate::mm::image_phys().1,
    };
    p.aspace.write_val(ptr, &info)?;
    Ok(0)
}

fn endpoint(p: &Process, h: u64, right: u32) -> Result<Arc<Endpoint>, Errno> {
    let h = u32::try_from(h).map_err(|_| Errno::EBADH)?;
    match p.handles.lock().get(h, right).map_err(handle_errno)? {
        Object::Endpoint(ep) => Ok(ep.clone()),
        _ => Err(Errno::EBADH),
    }
}

fn notification(p: &Process, h: u64, right: u32) -> Result<Arc<Notification>, Errno> {
    let h = u32::try_from(h).map_err(|_| Errno::EBADH)?;
    match p.handles.lock().get(h, right).map_err(handle_errno)? {
        Object::Notification(n) => Ok(n.clone()),
        _ => Err(Errno::EBADH),
    }
}

fn close_handle(p: &Process, h: u64) -> Result<(), Errno> {
    let h = u32::try_from(h).map_err(|_| Errno::EBADH)?;
    let mut table = p.handles.lock();
    let rights = table.rights(h).map_err(handle_errno)?;
    let obj = table.remove(h).map_err(handle_errno)?;
    drop(table);
    if let (Object::Endpoint(ep), true) = (&obj, rights & RIGHT_RECV != 0) {
        ep.receiver_closed();
    }
    Ok(())
}

fn dup_handle(p: &Process, h: u64, mask: u64) -> SysResult {
    let h = u32::try_from(h).map_err(|_| Errno::EBADH)?;
    let mut table = p.handles.lock();
    let new = table.dup(h, mask as u32, RIGHT_DUP).map_err(handle_errno)?;
    if let (Ok(Object::Endpoint(ep)), Ok(rights)) = (table.get(new, 0), table.rights(new)) {
        if rights & RIGHT_RECV != 0 {
            ep.receiver_opened();
        }
    }
    Ok(u64::from(new))
}

/// The outgoing message in `frame` (label x1, words x2..x5, buffers at x6, x7 bytes to send).
fn message_from(p: &Process, frame: &TrapFrame) -> Result<Message, Errno> {
    let mut msg = Message {
        regs: ipc::Regs::outgoing(frame, p.pid),
        bytes: Vec::new(),
    };
    let len = ipc::check_len(frame.x[7])?;
    if len != 0 {
        if frame.x[6] == 0 {
            return Err(Errno::EFAULT);
        }
        let bufs: IpcBuffers = p.aspace.read_val(frame.x[6])?;
        msg.bytes = p.aspace.read_bytes(bufs.send, len as u64, MSG_MAX)?;
        msg.regs.len = len as u64;
    }
    Ok(msg)
}

/// Puts a received message into `frame` (and its bytes into the receive buffer named at x6).
pub(crate) fn deliver_into(
    p: &Process,
    frame: &mut TrapFrame,
    bufs_ptr: u64,
    regs: &ipc::Regs,
    bytes: &[u8],
) -> Result<(), Errno> {
    if bufs_ptr != 0 && !bytes.is_empty() {
        let bufs: IpcBuffers = p.aspace.read_val(bufs_ptr)?;
        let n = (bufs.recv_cap as usize).min(bytes.len());
        p.aspace.write(bufs.recv, &bytes[..n])?;
    }
    regs.write_into(frame);
    Ok(())
}

fn call(p: &Arc<Process>, frame: &mut TrapFrame) {
    let bufs_ptr = frame.x[6];
    let r = endpoint(p, frame.x[0], RIGHT_SEND)
        .and_then(|ep| Ok((ep, message_from(p, frame)?)))
        .and_then(|(ep, msg)| ep.call(msg))
        .and_then(|reply| deliver_into(p, frame, bufs_ptr, &reply.regs, &reply.bytes));
    if let Err(e) = r {
        frame.x[0] = e.to_ret() as u64;
    }
}

/// `replied`: the caller `REPLY_RECV` answered, woken by the receive (or switched to).
fn recv(p: &Arc<Process>, frame: &mut TrapFrame, h: u64, replied: Option<Arc<Thread>>) {
    let bufs_ptr = frame.x[6];
    let r = match endpoint(p, h, RIGHT_RECV) {
        Ok(ep) => ep.receive(replied),
        Err(e) => {
            if let Some(c) = replied {
                crate::sched::wake(&c);
            }
            Err(e)
        }
    };
    let r = r.and_then(|msg| deliver_into(p, frame, bufs_ptr, &msg.regs, &msg.bytes));
    if let Err(e) = r {
        frame.x[0] = e.to_ret() as u64;
    }
}

fn reply(p: &Arc<Process>, frame: &TrapFrame, wake: bool) -> Result<Option<Arc<Thread>>, Errno> {
    let msg = message_from(p, frame)?;
    ipc::reply(msg, wake)
}

fn klog_read(p: &Process, offset: u64, buf: u64, len: u64) -> SysResult {
    if p.caps & types::CAP_KLOG == 0 {
        return Err(Errno::EPERM);
    }
    // The retained log as one text, from which `offset` bytes were already read.
    let mut all = alloc::vec![0u8; crate::klog::RING_SIZE];
    let r = crate::klog::read(0, &mut all);
    let text = &all[..r.bytes];
    let start = (offset as usize).min(text.len());
    let n = (len as usize).min(text.len() - start);
    p.aspace.write(buf, &text[start..start + n])?;
    Ok(n as u64)
}

fn klog_write(p: &Process, buf: u64, len: u64) -> SysResult {
    let bytes = p.aspace.read_bytes(buf, len, 1024).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::E2BIG
        } else {
            e
        }
    })?;
    let text = core::str::from_utf8(&bytes).map_err(|_| Errno::EINVAL)?;
    let text = text.trim_end();
    if !text.is_empty() {
        log::info!(target: "user", "{}[{}]: {}", p.name, p.pid, text);
    }
    Ok(len)
}

fn power(p: &Process, action: u64) -> SysResult {
    if p.caps & types::CAP_POWER == 0 {
        return Err(Errno::EPERM);
    }
    let action = match action {
        types::POWER_OFF => crate::power::Action::Off,
        types::POWER_REBOOT => crate::power::Action::Reboot,
        _ => return Err(Errno::EINVAL),
    };
    if let Err(e) = crate::fs::sync_all() {
        log::error!(target: "power", "not every written block reached its device: {}", e.name().unwrap_or("error"));
    }
    crate::power::shutdown(action);
    Err(Errno::EIO)
}
