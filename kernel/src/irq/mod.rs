//! Interrupt dispatch: the GIC, and handlers registered per interrupt line.
//!
//! A line can carry several handlers (shared lines, like the Pi 4's EMMC and EMMC2); each says
//! whether the interrupt was its device's. A line nobody claims is masked with a warning, so a
//! stuck device cannot storm the system.

pub mod gic;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;

use crate::sync::IrqMutex;
use gic::Gic;
pub use gic::Trigger;

/// What a handler says about an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The interrupt came from this handler's device and was dealt with.
    Handled,
    /// Not this handler's device (on a shared line).
    NotMine,
}

/// Most handlers one line may carry (dispatch copies them to the stack, so that taking an
/// interrupt never allocates).
pub const MAX_HANDLERS: usize = 8;

/// A registered handler function; it receives the interrupt ID.
pub type Handler = dyn Fn(u32) -> IrqReturn + Send + Sync;

/// Why a registration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqError {
    /// No interrupt controller was found in the device tree.
    NoController,
    /// The interrupt ID is beyond what the controller implements.
    OutOfRange {
        /// The requested ID.
        intid: u32,
        /// Lines the controller has.
        lines: u32,
    },
    /// No handler is registered under this handle.
    NotRegistered,
    /// The line already carries [`MAX_HANDLERS`] handlers.
    LineFull {
        /// The interrupt ID.
        intid: u32,
    },
}

impl core::fmt::Display for IrqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IrqError::NoController => write!(f, "no GICv2 interrupt controller in the device tree"),
            IrqError::OutOfRange { intid, lines } => {
                write!(
                    f,
                    "interrupt {intid} is out of range: the GIC has {lines} lines"
                )
            }
            IrqError::NotRegistered => write!(f, "no handler is registered under that handle"),
            IrqError::LineFull { intid } => {
                write!(f, "interrupt {intid} already has {MAX_HANDLERS} handlers")
            }
        }
    }
}

/// Identifies one registration, for [`unregister`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    intid: u32,
    id: u64,
}

#[derive(Clone)]
struct Action {
    id: u64,
    name: &'static str,
    handler: Arc<Handler>,
}

struct Line {
    /// Replaced whole on every change, so dispatch takes a snapshot by cloning one `Arc` and
    /// never allocates in interrupt context.
    actions: Arc<Vec<Action>>,
    count: u64,
}

static GIC: Once<Gic> = Once::new();
static LINES: IrqMutex<BTreeMap<u32, Line>> = IrqMutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static SPURIOUS: AtomicU64 = AtomicU64::new(0);

/// Device-tree compatibles of the GICv2 family.
const GIC_COMPATIBLE: &[&str] = &[
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,arm11mp-gic",
];

/// Finds the GIC in the device tree, maps it and resets it; this core's interface is enabled.
pub fn init() -> Result<(u64, u32, u32), IrqError> {
    let dev = crate::dt::find_compatible(GIC_COMPATIBLE).ok_or(IrqError::NoController)?;
    let regs = dev.regs();
    if regs.len() < 2 {
        return Err(IrqError::NoController);
    }
    let gicd = crate::mm::map_device(regs[0].0, 0x1000).map_err(|_| IrqError::NoController)?;
    let gicc = crate::mm::map_device(regs[1].0, 0x2000).map_err(|_| IrqError::NoController)?;
    // SAFETY: both blocks were just mapped as device memory and only this subsystem drives them.
    let mut gic = unsafe { Gic::new(gicd, gicc) };
    gic.init_distributor();
    gic.init_cpu();
    let (lines, cpus) = (gic.lines(), gic.cpus());
    GIC.call_once(|| gic);
    Ok((regs[0].0, lines, cpus))
}

fn gic() -> Result<&'static Gic, IrqError> {
    GIC.get().ok_or(IrqError::NoController)
}

/// Registers `handler` for interrupt `intid` and enables the line. A line may have several handlers.
pub fn register(
    intid: u32,
    name: &'static str,
    trigger: Option<Trigger>,
    handler: Box<Handler>,
) -> Result<Registration, IrqError> {
    let gic = gic()?;
    if intid >= gic.lines() {
        return Err(IrqError::OutOfRange {
            intid,
            lines: gic.lines(),
        });
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut lines = LINES.lock();
    let line = lines.entry(intid).or_insert_with(|| Line {
        actions: Arc::new(Vec::new()),
        count: 0,
    });
    if line.actions.len() >= MAX_HANDLERS {
        return Err(IrqError::LineFull { intid });
    }
    let mut actions = Vec::with_capacity(line.actions.len() + 1);
    actions.extend(line.actions.iter().cloned());
    actions.push(Action {
        id,
        name,
        handler: Arc::from(handler),
    });
    line.actions = Arc::new(actions);
    if let Some(t) = trigger {
        gic.set_trigger(intid, t);
    }
    gic.enable(intid);
    Ok(Registration { intid, id })
}

/// Removes a handler; the line is masked when its last handler goes.
pub fn unregister(r: Registration) -> Result<(), IrqError> {
    let gic = gic()?;
    let mut lines = LINES.lock();
    let line = lines.get_mut(&r.intid).ok_or(IrqError::NotRegistered)?;
    if !line.actions.iter().any(|a| a.id == r.id) {
        return Err(IrqError::NotRegistered);
    }
    line.actions = Arc::new(
        line.actions
            .iter()
            .filter(|a| a.id != r.id)
            .cloned()
            .collect(),
    );
    if line.actions.is_empty() {
        gic.disable(r.intid);
        lines.remove(&r.intid);
    }
    Ok(())
}

/// Sets up the calling secondary core's CPU interface and enables on it every banked line
/// (SGIs and PPIs such as the timer) that has handlers.
pub fn init_secondary() -> Result<u32, IrqError> {
    let gic = gic()?;
    gic.init_cpu();
    let banked: Vec<u32> = LINES.lock().keys().copied().filter(|&i| i < 32).collect();
    for intid in banked {
        gic.enable_banked(intid);
    }
    Ok(gic.own_target_mask())
}

/// The calling core's SGI target mask.
pub fn own_target_mask() -> u32 {
    GIC.get().map_or(0, Gic::own_target_mask)
}

/// Sends SGI `sgi` to the cores in `targets` (GIC CPU-interface mask).
pub fn send_sgi(sgi: u32, targets: u32) {
    if let Some(gic) = GIC.get() {
        // SAFETY: barrier only: make our queue updates visible before the other core looks.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        gic.send_sgi(sgi, targets);
    }
}

/// Raises `intid` from software (GICD_ISPENDR), as if its device had signalled it.
pub fn raise(intid: u32) -> Result<(), IrqError> {
    let gic = gic()?;
    if intid >= gic.lines() {
        return Err(IrqError::OutOfRange {
            intid,
            lines: gic.lines(),
        });
    }
    gic.set_pending(intid);
    Ok(())
}

/// Whether `intid` is enabled at the controller.
pub fn is_enabled(intid: u32) -> bool {
    GIC.get().is_some_and(|g| g.is_enabled(intid))
}

/// Number of interrupt lines the controller implements (0 before [`init`]).
pub fn lines() -> u32 {
    GIC.get().map_or(0, Gic::lines)
}

/// How many handlers `intid` has.
pub fn handler_count(intid: u32) -> usize {
    LINES.lock().get(&intid).map_or(0, |l| l.actions.len())
}

/// Interrupts taken on a line so far.
pub fn count(intid: u32) -> u64 {
    LINES.lock().get(&intid).map_or(0, |l| l.count)
}

/// Handles one pending interrupt; called from the IRQ vector with IRQs masked.
pub fn dispatch() {
    let Some(gic) = GIC.get() else { return };
    let Some(iar) = gic.acknowledge() else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let intid = iar & 0x3ff;
    let actions = {
        let mut lines = LINES.lock();
        lines.get_mut(&intid).map(|line| {
            line.count += 1;
            line.actions.clone()
        })
    };
    let mut handled = false;
    for a in actions.iter().flat_map(|a| a.iter()) {
        handled |= (a.handler)(intid) == IrqReturn::Handled;
    }
    if !handled {
        gic.disable(intid);
        let declined: Vec<&str> = actions
            .iter()
            .flat_map(|a| a.iter())
            .map(|a| a.name)
            .collect();
        log::warn!(
            "interrupt {intid} not claimed by any handler (declined: {declined:?}): line masked"
        );
    }
    gic.end_of_interrupt(iar);
}
