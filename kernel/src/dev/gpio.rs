//! The GPIO class: `/dev/gpiochipN` and its ioctls (`keel_abi::device::GPIO_*`).
//!
//! The kernel owns the user-facing part, the same for every controller: which open file holds
//! which line (`GPIO_REQUEST_LINE`; every other line ioctl needs it, closing the file releases
//! it), the checks of every argument, and the queue of edge events that `GPIO_WAIT_EVENT` sleeps
//! on. The driver only touches its registers ([`keel_abi::device::GpioOps`]) and reports edges
//! from its interrupt handler with `keel_gpio_event`.

use alloc::collections::{BTreeMap, VecDeque};

use keel_abi::device::{
    check_wait, GpioChipInfo, GpioEvent, GpioLineArg, GpioRequest, GPIO_EDGE_BOTH,
    GPIO_GET_CHIPINFO, GPIO_INPUT, GPIO_NAME_MAX, GPIO_OUTPUT, GPIO_WAIT_EVENT,
};
use keel_abi::Errno;
use keel_vfs::FileId;

use super::{Class, Device};

/// Most lines a controller may have.
pub const MAX_LINES: u32 = 256;
/// Edge events kept per controller that nobody has waited for yet (the oldest go first).
const EVENTS_MAX: usize = 64;

/// One edge a driver reported.
#[derive(Clone, Copy, Debug)]
struct Event {
    line: u32,
    edge: u32,
    timestamp_ns: u64,
}

/// What the kernel keeps per GPIO controller.
pub struct State {
    lines: u32,
    /// Requested lines and the file holding each.
    owners: BTreeMap<u32, FileId>,
    /// Lines with edge interrupts on, and which edges.
    watched: BTreeMap<u32, u32>,
    events: VecDeque<Event>,
}

impl State {
    /// A controller of `lines` lines, none requested.
    pub fn new(lines: u32) -> State {
        State {
            lines,
            owners: BTreeMap::new(),
            watched: BTreeMap::new(),
            // Preallocated: events are queued in interrupt context.
            events: VecDeque::with_capacity(EVENTS_MAX),
        }
    }
}

fn parts(dev: &Device) -> (&keel_abi::device::GpioOps, &crate::sync::IrqMutex<State>) {
    match &dev.class {
        Class::Gpio { ops, state } => (ops, state),
        // `ioctl`, `release` and `event` are only called for GPIO devices.
        _ => unreachable!("a GPIO request on a device of another class"),
    }
}

/// Handles an ioctl on a GPIO device from open file `file`.
pub fn ioctl(dev: &Device, file: FileId, request: u64, arg: u64) -> Result<u64, Errno> {
    let (ops, state) = parts(dev);
    let p = crate::proc::current().ok_or(Errno::EPERM)?;
    let lines = state.lock().lines;
    match request {
        GPIO_GET_CHIPINFO => {
            let mut info = GpioChipInfo {
                lines,
                ..GpioChipInfo::default()
            };
            crate::module::with_name(dev.module, |name| {
                let n = name.len().min(GPIO_NAME_MAX);
                info.driver[..n].copy_from_slice(&name.as_bytes()[..n]);
                info.driver_len = n as u32;
            });
            p.aspace.write_val(arg, &info)?;
            return Ok(0);
        }
        GPIO_WAIT_EVENT => {
            let event: GpioEvent = p.aspace.read_val(arg)?;
            check_wait(&event, lines)?;
            return wait(dev, file, event, arg, &p);
        }
        _ => {}
    }
    let line_arg: GpioLineArg = p.aspace.read_val(arg)?;
    let request = GpioRequest::decode(request, &line_arg, lines)?;
    let line = match request {
        GpioRequest::Request(line) => {
            let mut s = state.lock();
            return match s.owners.get(&line) {
                Some(&owner) if owner != file => Err(Errno::EBUSY),
                _ => {
                    s.owners.insert(line, file);
                    Ok(0)
                }
            };
        }
        GpioRequest::Release(line)
        | GpioRequest::Direction { line, .. }
        | GpioRequest::Set(line, _)
        | GpioRequest::Get(line)
        | GpioRequest::Pull(line, _) => line,
    };
    if state.lock().owners.get(&line) != Some(&file) {
        return Err(Errno::EPERM);
    }
    let l = line as u64;
    match request {
        GpioRequest::Release(_) => {
            unwatch(dev, line);
            state.lock().owners.remove(&line);
            Ok(0)
        }
        GpioRequest::Direction { output, value, .. } => {
            let dir = if output { GPIO_OUTPUT } else { GPIO_INPUT };
            dev.call_status(ops.direction as usize, l, dir as u64, value as u64)
                .map(|_| 0)
        }
        GpioRequest::Set(_, value) => dev
            .call_status(ops.set as usize, l, value as u64, 0)
            .map(|_| 0),
        GpioRequest::Get(_) => dev
            .call_status(ops.get as usize, l, 0, 0)
            .map(|v| u64::from(v != 0)),
        GpioRequest::Pull(_, pull) => dev
            .call_status(ops.pull as usize, l, pull as u64, 0)
            .map(|_| 0),
        GpioRequest::Request(_) => Ok(0),
    }
}

/// `GPIO_WAIT_EVENT`: turns the line's edge interrupts on if needed, then takes the first queued
/// event of the line with one of the wanted edges, or says `EAGAIN` (the system call sleeps
/// until [`event`] wakes it).
fn wait(
    dev: &Device,
    file: FileId,
    mut event: GpioEvent,
    arg: u64,
    p: &crate::proc::Process,
) -> Result<u64, Errno> {
    let (ops, state) = parts(dev);
    let line = event.line;
    let enable = {
        let s = state.lock();
        if s.owners.get(&line) != Some(&file) {
            return Err(Errno::EPERM);
        }
        let now = s.watched.get(&line).copied().unwrap_or(0);
        (now & event.edges != event.edges).then_some(now | event.edges)
    };
    if let Some(edges) = enable {
        dev.call_status(ops.events as usize, line as u64, edges as u64, 0)?;
        state.lock().watched.insert(line, edges);
    }
    let found = {
        let mut s = state.lock();
        let at = s
            .events
            .iter()
            .position(|e| e.line == line && e.edge & event.edges != 0);
        at.and_then(|i| s.events.remove(i))
    };
    match found {
        Some(e) => {
            event.edges = e.edge;
            event.timestamp_ns = e.timestamp_ns;
            p.aspace.write_val(arg, &event)?;
            Ok(0)
        }
        None => Err(Errno::EAGAIN),
    }
}

/// Turns a line's edge interrupts off and drops its queued events.
fn unwatch(dev: &Device, line: u32) {
    let (ops, state) = parts(dev);
    let was = {
        let mut s = state.lock();
        s.events.retain(|e| e.line != line);
        s.watched.remove(&line)
    };
    if was.is_some() {
        let _ = dev.call(ops.events as usize, line as u64, 0, 0);
    }
}

/// Releases every line open file `file` held (it was closed).
pub fn release(dev: &Device, file: FileId) {
    let (_, state) = parts(dev);
    let held: alloc::vec::Vec<u32> = state
        .lock()
        .owners
        .iter()
        .filter(|(_, &f)| f == file)
        .map(|(&line, _)| line)
        .collect();
    for line in held {
        unwatch(dev, line);
        state.lock().owners.remove(&line);
    }
}

/// Queues an edge a driver reported (the `keel_gpio_event` export; interrupt context) and wakes
/// the waiters. Edges of lines nobody watches are ignored.
pub fn event(module: crate::module::ModuleId, id: u32, line: u32, edge: u32) -> Result<(), Errno> {
    let dev = super::find(module, id).ok_or(Errno::ENOENT)?;
    let Class::Gpio { state, .. } = &dev.class else {
        return Err(Errno::EINVAL);
    };
    if edge == 0 || edge & !GPIO_EDGE_BOTH != 0 {
        return Err(Errno::EINVAL);
    }
    {
        let mut s = state.lock();
        if line >= s.lines {
            return Err(Errno::EINVAL);
        }
        if s.watched.get(&line).is_none_or(|w| w & edge == 0) {
            return Ok(());
        }
        if s.events.len() == EVENTS_MAX {
            s.events.pop_front();
        }
        s.events.push_back(Event {
            line,
            edge,
            timestamp_ns: crate::time::uptime_nanos(),
        });
    }
    dev.wake();
    Ok(())
}
