//! The GPIO class: `/dev/gpiochipN` and its ioctls (`keel_abi::device::GPIO_*`).
//!
//! The kernel owns the user-facing part, the same for every controller: which open file holds
//! which line (`GPIO_REQUEST_LINE`; every other line ioctl needs it, closing the file releases
//! it), the checks of every argument, and the queue of events that `GPIO_WAIT_EVENT` sleeps on.
//! The driver only touches its registers ([`keel_abi::device::GpioOps`]) and reports edges and
//! levels from its interrupt handler with `keel_gpio_event`.
//!
//! Levels work like Linux's level-triggered interrupts: a level wait first reads the line (at the
//! level already: it returns at once); otherwise it arms the driver's level detection, whose
//! interrupt handler turns the detection off when it fires and reports the level. The kernel
//! notes the line as disarmed and arms it again at the next wait, so a line that stays at the
//! level raises one interrupt per wait, not a storm. Level flags reach only drivers that declare
//! `GPIO_FEATURE_LEVEL_EVENTS`.

use alloc::collections::{BTreeMap, VecDeque};

use keel_abi::device::{
    check_wait, GpioChipInfo, GpioEvent, GpioLineArg, GpioRequest, GPIO_EDGE_BOTH,
    GPIO_GET_CHIPINFO, GPIO_INPUT, GPIO_LEVEL_HIGH, GPIO_LEVEL_LOW, GPIO_NAME_MAX, GPIO_OUTPUT,
    GPIO_WAIT_EVENT,
};
use keel_abi::Errno;
use keel_vfs::FileId;

use super::{Class, Device};

/// Most lines a controller may have.
pub const MAX_LINES: u32 = 256;
/// Events kept per controller that nobody has waited for yet (the oldest go first).
const EVENTS_MAX: usize = 64;
/// Both level flags.
const LEVELS: u32 = GPIO_LEVEL_HIGH | GPIO_LEVEL_LOW;

/// One edge or level a driver reported.
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
    /// Lines with interrupts on, and which edges or which level (a level is removed when it
    /// fires: the driver turned its detection off).
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
            check_wait(&event, lines, ops.header.features)?;
            return if event.edges & LEVELS != 0 {
                wait_level(dev, file, event, arg, &p)
            } else {
                wait(dev, file, event, arg, &p)
            };
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

/// `GPIO_WAIT_EVENT` for edges: turns the line's edge interrupts on if needed (replacing a level
/// detection), then takes the first queued event of the line with one of the wanted edges, or
/// says `EAGAIN` (the system call sleeps until [`event`] wakes it).
fn wait(
    dev: &Device,
    file: FileId,
    mut event: GpioEvent,
    arg: u64,
    p: &crate::proc::Process,
) -> Result<u64, Errno> {
    let (_, state) = parts(dev);
    let line = event.line;
    let enable = {
        let s = state.lock();
        if s.owners.get(&line) != Some(&file) {
            return Err(Errno::EPERM);
        }
        let now = s.watched.get(&line).copied().unwrap_or(0) & GPIO_EDGE_BOTH;
        (now & event.edges != event.edges).then_some(now | event.edges)
    };
    if let Some(edges) = enable {
        set_events(dev, line, edges)?;
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

/// `GPIO_WAIT_EVENT` for one level (`GPIO_LEVEL_HIGH` or `_LOW`, checked): a queued event of
/// that level comes first (the line may have left the level since); else the line at the level
/// now returns at once (disarming a detection left armed, and dropping older reports of the
/// level); else the driver's level detection is armed (if it is not) and the system call sleeps
/// (`EAGAIN`) until [`event`] wakes it.
fn wait_level(
    dev: &Device,
    file: FileId,
    mut event: GpioEvent,
    arg: u64,
    p: &crate::proc::Process,
) -> Result<u64, Errno> {
    let (ops, state) = parts(dev);
    let (line, level) = (event.line, event.edges);
    if state.lock().owners.get(&line) != Some(&file) {
        return Err(Errno::EPERM);
    }
    let high = dev.call_status(ops.get as usize, line as u64, 0, 0)? != 0;
    let at_level = high == (level == GPIO_LEVEL_HIGH);
    let armed = state.lock().watched.get(&line) == Some(&level);
    if at_level && armed {
        // Returning at once: an armed detection (left by an earlier wait) goes off, so that it
        // does not report this level again later.
        set_events(dev, line, 0)?;
    } else if !at_level && !armed {
        set_events(dev, line, level)?;
    }
    let found = {
        let mut s = state.lock();
        let at = s
            .events
            .iter()
            .position(|e| e.line == line && e.edge == level);
        let found = at.and_then(|i| s.events.remove(i));
        if at_level {
            // The line is at the level: older reports of it say nothing more.
            s.events.retain(|e| e.line != line || e.edge != level);
        }
        found
    };
    let timestamp_ns = match found {
        Some(e) => e.timestamp_ns,
        None if at_level => crate::time::uptime_nanos(),
        None => return Err(Errno::EAGAIN),
    };
    event.timestamp_ns = timestamp_ns;
    p.aspace.write_val(arg, &event)?;
    Ok(0)
}

/// Sets what raises events on `line` (`GpioOps::events`; 0 = nothing). The kernel's note goes
/// first, so an interrupt that fires as soon as the driver arms the line is not ignored by
/// [`event`]; it is put back if the driver refuses.
fn set_events(dev: &Device, line: u32, events: u32) -> Result<(), Errno> {
    let (ops, state) = parts(dev);
    let old = {
        let mut s = state.lock();
        if events == 0 {
            s.watched.remove(&line)
        } else {
            s.watched.insert(line, events)
        }
    };
    let status = dev.call_status(ops.events as usize, line as u64, events as u64, 0);
    if status.is_err() {
        let mut s = state.lock();
        match old {
            Some(old) => s.watched.insert(line, old),
            None => s.watched.remove(&line),
        };
    }
    status.map(drop)
}

/// Turns a line's interrupts off and drops its queued events.
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

/// Queues an edge or level a driver reported (the `keel_gpio_event` export; interrupt context)
/// and wakes the waiters. Events of lines nobody watches are ignored. A level marks the line's
/// level detection off (the driver turned it off); the next level wait arms it again.
pub fn event(module: crate::module::ModuleId, id: u32, line: u32, edge: u32) -> Result<(), Errno> {
    let dev = super::find(module, id).ok_or(Errno::ENOENT)?;
    let Class::Gpio { state, .. } = &dev.class else {
        return Err(Errno::EINVAL);
    };
    let known = matches!(edge, GPIO_LEVEL_HIGH | GPIO_LEVEL_LOW)
        || (edge != 0 && edge & !GPIO_EDGE_BOTH == 0);
    if !known {
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
        if edge & LEVELS != 0 {
            s.watched.remove(&line);
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
