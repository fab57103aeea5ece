//! ARM Generic Interrupt Controller v2 (GIC-400 on the Pi 4, QEMU's default on `virt`).
//!
//! Reference: ARM Generic Interrupt Controller Architecture Specification v2.0 (IHI 0048B),
//! chapter 4 (distributor and CPU interface registers); GIC-400 TRM (DDI 0471B).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {
    u32,

    /// Distributor control.
    GICD_CTLR [
        /// Forward interrupts from the distributor to the CPU interfaces.
        EnableGrp0 OFFSET(0) NUMBITS(1) [],
        /// Group 1 forwarding (GICs with security extensions, seen from the secure side).
        EnableGrp1 OFFSET(1) NUMBITS(1) []
    ],

    /// Interrupt controller type.
    GICD_TYPER [
        /// Number of interrupt lines: 32 * (N + 1).
        ITLinesNumber OFFSET(0) NUMBITS(5) [],
        /// Number of CPU interfaces minus one.
        CPUNumber OFFSET(5) NUMBITS(3) []
    ],

    /// CPU interface control.
    GICC_CTLR [
        /// Signal interrupts to the core.
        Enable OFFSET(0) NUMBITS(1) []
    ],

    /// Priority mask: interrupts with a lower value (higher priority) than this are signalled.
    GICC_PMR [
        /// The mask.
        Priority OFFSET(0) NUMBITS(8) []
    ],

    /// Interrupt acknowledge.
    GICC_IAR [
        /// The interrupt ID; 1023 means spurious.
        InterruptID OFFSET(0) NUMBITS(10) [],
        /// For SGIs, the requesting CPU.
        CPUID OFFSET(10) NUMBITS(3) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    pub DistributorRegs {
        (0x000 => CTLR: ReadWrite<u32, GICD_CTLR::Register>),
        (0x004 => TYPER: ReadOnly<u32, GICD_TYPER::Register>),
        (0x008 => IIDR: ReadOnly<u32>),
        (0x00c => _reserved0),
        (0x080 => IGROUPR: [ReadWrite<u32>; 32]),
        (0x100 => ISENABLER: [ReadWrite<u32>; 32]),
        (0x180 => ICENABLER: [ReadWrite<u32>; 32]),
        (0x200 => ISPENDR: [ReadWrite<u32>; 32]),
        (0x280 => ICPENDR: [ReadWrite<u32>; 32]),
        (0x300 => ISACTIVER: [ReadWrite<u32>; 32]),
        (0x380 => ICACTIVER: [ReadWrite<u32>; 32]),
        (0x400 => IPRIORITYR: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved1),
        (0x800 => ITARGETSR: [ReadWrite<u32>; 255]),
        (0xbfc => _reserved2),
        (0xc00 => ICFGR: [ReadWrite<u32>; 64]),
        (0xd00 => _reserved3),
        (0xf00 => SGIR: WriteOnly<u32>),
        (0xf04 => @END),
    }
}

register_structs! {
    #[allow(non_snake_case)]
    pub CpuRegs {
        (0x00 => CTLR: ReadWrite<u32, GICC_CTLR::Register>),
        (0x04 => PMR: ReadWrite<u32, GICC_PMR::Register>),
        (0x08 => BPR: ReadWrite<u32>),
        (0x0c => IAR: ReadOnly<u32, GICC_IAR::Register>),
        (0x10 => EOIR: WriteOnly<u32>),
        (0x14 => @END),
    }
}

/// How a line signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Level sensitive.
    Level,
    /// Rising edge.
    Edge,
}

/// Priority given to every line (lower is more urgent).
const DEFAULT_PRIORITY: u32 = 0xa0;
/// The mask lets every priority below 0xf0 through.
const PRIORITY_MASK: u32 = 0xf0;

/// A GICv2 distributor and this core's CPU interface.
pub struct Gic {
    gicd: *const DistributorRegs,
    gicc: *const CpuRegs,
    lines: u32,
}

// SAFETY: the register blocks are MMIO; the distributor's shared registers are changed only through
// `&mut self` (under the interrupt subsystem's lock) or with single-writer semantics (IAR/EOIR).
unsafe impl Send for Gic {}
// SAFETY: see above.
unsafe impl Sync for Gic {}

impl Gic {
    /// Wraps mapped distributor and CPU-interface registers.
    ///
    /// # Safety
    /// Both addresses must be mapped GICv2 register blocks owned by this driver.
    pub unsafe fn new(gicd: usize, gicc: usize) -> Self {
        let mut gic = Gic {
            gicd: gicd as *const _,
            gicc: gicc as *const _,
            lines: 0,
        };
        gic.lines = 32 * (gic.d().TYPER.read(GICD_TYPER::ITLinesNumber) + 1);
        gic
    }

    fn d(&self) -> &DistributorRegs {
        // SAFETY: `new`'s contract.
        unsafe { &*self.gicd }
    }

    fn c(&self) -> &CpuRegs {
        // SAFETY: `new`'s contract.
        unsafe { &*self.gicc }
    }

    /// Number of interrupt IDs the distributor implements.
    pub fn lines(&self) -> u32 {
        self.lines
    }

    /// Number of CPU interfaces.
    pub fn cpus(&self) -> u32 {
        self.d().TYPER.read(GICD_TYPER::CPUNumber) + 1
    }

    /// Resets the distributor: every SPI disabled, inactive, not pending, at the default priority,
    /// routed to CPU 0; then enables forwarding.
    pub fn init_distributor(&mut self) {
        let d = self.d();
        d.CTLR.set(0);
        for i in 1..(self.lines / 32) as usize {
            d.ICENABLER[i].set(!0);
            d.ICPENDR[i].set(!0);
            d.ICACTIVER[i].set(!0);
        }
        for i in 8..(self.lines / 4) as usize {
            d.IPRIORITYR[i].set(DEFAULT_PRIORITY * 0x0101_0101);
            d.ITARGETSR[i].set(0x0101_0101);
        }
        d.CTLR
            .write(GICD_CTLR::EnableGrp0::SET + GICD_CTLR::EnableGrp1::SET);
    }

    /// Sets up this core's banked registers (SGIs and PPIs) and its CPU interface.
    pub fn init_cpu(&self) {
        let d = self.d();
        d.ICENABLER[0].set(!0);
        d.ICPENDR[0].set(!0);
        for i in 0..8 {
            d.IPRIORITYR[i].set(DEFAULT_PRIORITY * 0x0101_0101);
        }
        let c = self.c();
        c.PMR.write(GICC_PMR::Priority.val(PRIORITY_MASK));
        c.BPR.set(0);
        c.CTLR.write(GICC_CTLR::Enable::SET);
    }

    /// Lets `intid` through.
    pub fn enable(&self, intid: u32) {
        self.d().ISENABLER[(intid / 32) as usize].set(1 << (intid % 32));
    }

    /// Blocks `intid`.
    pub fn disable(&self, intid: u32) {
        self.d().ICENABLER[(intid / 32) as usize].set(1 << (intid % 32));
    }

    /// Makes `intid` pending, as if its device had raised it.
    pub fn set_pending(&self, intid: u32) {
        self.d().ISPENDR[(intid / 32) as usize].set(1 << (intid % 32));
    }

    /// Whether `intid` is currently enabled.
    pub fn is_enabled(&self, intid: u32) -> bool {
        self.d().ISENABLER[(intid / 32) as usize].get() & (1 << (intid % 32)) != 0
    }

    /// Sets a line's trigger (SPIs only; SGI and PPI configuration is fixed or banked). Callers
    /// serialise changes (the interrupt subsystem's lock).
    pub fn set_trigger(&self, intid: u32, trigger: Trigger) {
        if intid < 32 {
            return;
        }
        let reg = &self.d().ICFGR[(intid / 16) as usize];
        let shift = (intid % 16) * 2 + 1;
        let v = reg.get() & !(1 << shift);
        reg.set(v | (u32::from(trigger == Trigger::Edge) << shift));
    }

    /// Sends software-generated interrupt `sgi` (0..15) to the CPU interfaces in `targets`.
    pub fn send_sgi(&self, sgi: u32, targets: u32) {
        // TargetListFilter 0 (use the list), CPUTargetList, SGIINTID.
        self.d().SGIR.set(((targets & 0xff) << 16) | (sgi & 0xf));
    }

    /// The CPU-interface mask of the calling core (GICD_ITARGETSR0 is banked and reads as it).
    pub fn own_target_mask(&self) -> u32 {
        self.d().ITARGETSR[0].get() & 0xff
    }

    /// Enables a banked (SGI or PPI) line on the calling core.
    pub fn enable_banked(&self, intid: u32) {
        if intid < 32 {
            self.d().ISENABLER[0].set(1 << intid);
        }
    }

    /// Acknowledges the highest-priority pending interrupt; `None` when it was spurious.
    pub fn acknowledge(&self) -> Option<u32> {
        let iar = self.c().IAR.get();
        let id = iar & 0x3ff;
        (id < 1020).then_some(iar)
    }

    /// Signals the end of handling an interrupt acknowledged as `iar`.
    pub fn end_of_interrupt(&self, iar: u32) {
        self.c().EOIR.set(iar);
    }
}
