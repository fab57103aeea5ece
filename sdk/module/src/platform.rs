//! Platform devices: the device-tree nodes matching the module's `compatible` strings, with
//! their registers (translated to CPU physical addresses), interrupts (GIC interrupt IDs) and
//! clock rates. A driver's `init` probes each one:
//!
//! ```ignore
//! fn init() -> keel_module::Result {
//!     let node = keel_module::platform::first()?;
//!     let (phys, size) = node.reg(0).ok_or(keel_module::Error::NoDevice)?;
//!     let registers = keel_module::Mmio::<Registers>::map(phys, size as usize)?;
//!     let line = node.irq(0).ok_or(keel_module::Error::NoDevice)?;
//!     // ...
//!     Ok(())
//! }
//! ```

use keel_abi::device::PlatformDevice as RawDevice;

use crate::{rt, sys, Error, Result};

/// One device-tree node this module drives.
#[derive(Clone, Copy, Debug)]
pub struct PlatformDevice {
    raw: RawDevice,
}

impl PlatformDevice {
    /// The `index`th matching node (0, 1, ...) in tree order. [`Error::NoDevice`] when there
    /// is none.
    pub fn get(index: u32) -> Result<PlatformDevice> {
        let mut raw = RawDevice::default();
        // SAFETY: `raw` is valid for writes during the call.
        Error::check(unsafe { sys::keel_platform_device(rt::handle(), index, &mut raw) })?;
        Ok(PlatformDevice { raw })
    }

    /// Register range `index` as `(CPU physical address, size)`.
    pub fn reg(&self, index: usize) -> Option<(u64, u64)> {
        self.regs().nth(index)
    }

    /// Every register range as `(CPU physical address, size)`.
    pub fn regs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.raw.regs[..(self.raw.nregs as usize).min(self.raw.regs.len())]
            .iter()
            .map(|r| (r[0], r[1]))
    }

    /// Interrupt `index` as a GIC interrupt ID (for [`crate::IrqRegistration::new`]).
    pub fn irq(&self, index: usize) -> Option<u32> {
        self.irqs().get(index).copied()
    }

    /// Every interrupt as a GIC interrupt ID.
    pub fn irqs(&self) -> &[u32] {
        &self.raw.irqs[..(self.raw.nirqs as usize).min(self.raw.irqs.len())]
    }

    /// The rates in Hz of the node's clocks (0 for a clock whose rate the tree does not give).
    pub fn clocks(&self) -> &[u64] {
        &self.raw.clocks[..(self.raw.nclocks as usize).min(self.raw.clocks.len())]
    }

    /// The node's path (`/pl061@9030000`).
    pub fn path(&self) -> &str {
        text(&self.raw.path, self.raw.path_len)
    }

    /// The `compatible` string that matched.
    pub fn compatible(&self) -> &str {
        text(&self.raw.compatible, self.raw.compatible_len)
    }
}

fn text(bytes: &[u8], len: u32) -> &str {
    let bytes = &bytes[..(len as usize).min(bytes.len())];
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// Every enabled node matching the module's `compatible` strings, in tree order.
pub fn devices() -> impl Iterator<Item = PlatformDevice> {
    (0..).map_while(|index| PlatformDevice::get(index).ok())
}

/// The first of [`devices`], for a driver of a single device; [`Error::NoDevice`] if the tree
/// has none.
pub fn first() -> Result<PlatformDevice> {
    devices().next().ok_or(Error::NoDevice)
}

/// One PCI function this module drives (its `pci` ids or `pci_class` classes in `module!`
/// match), with the memory BARs
/// the kernel assigned and its routed interrupt.
///
/// ```ignore
/// let function = keel_module::platform::PciFunction::get(0)?;
/// let (phys, size) = function.bar(0).ok_or(keel_module::Error::NoDevice)?;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PciFunction {
    raw: keel_abi::device::PciDevice,
}

impl PciFunction {
    /// The `index`th matching function (0, 1, ...) in bus order. [`Error::NoDevice`] when
    /// there is none.
    pub fn get(index: u32) -> Result<PciFunction> {
        let mut raw = keel_abi::device::PciDevice::default();
        // SAFETY: `raw` is valid for writes during the call.
        Error::check(unsafe { sys::keel_pci_device(rt::handle(), index, &mut raw) })?;
        Ok(PciFunction { raw })
    }

    /// `(vendor, device)` ids.
    pub fn id(&self) -> (u16, u16) {
        (self.raw.vendor, self.raw.device)
    }

    /// Class, subclass and programming interface (`0x080501`).
    pub fn class(&self) -> u32 {
        self.raw.class
    }

    /// Memory BAR `index` as `(CPU physical address, size)`, if assigned.
    pub fn bar(&self, index: usize) -> Option<(u64, u64)> {
        self.raw
            .bars
            .get(index)
            .filter(|b| b[0] != 0 && b[1] != 0)
            .map(|b| (b[0], b[1]))
    }

    /// The GIC interrupt its interrupt pin is routed to.
    pub fn irq(&self) -> Option<u32> {
        (self.raw.irq != 0).then_some(self.raw.irq)
    }

    /// `bus:device.function`.
    pub fn address(&self) -> (u8, u8, u8) {
        (self.raw.bus, self.raw.slot, self.raw.function)
    }
}

/// Every PCI function this module drives, in bus order.
pub fn pci_functions() -> impl Iterator<Item = PciFunction> {
    (0..).map_while(|i| PciFunction::get(i).ok())
}
