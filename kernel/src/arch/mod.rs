//! AArch64 CPU services: counters, interrupt masking, identification, halting.

pub mod exceptions;
#[cfg(feature = "qemu-test")]
pub mod semihosting;

use aarch64_cpu::registers::{Readable, CNTFRQ_EL0, CNTPCT_EL0, MIDR_EL1, MPIDR_EL1};

// The kernel's `memcpy` and `memset` (they override compiler_builtins' portable ones), on the
// routines it shares with user programs.
core::arch::global_asm!(include_str!("../../../sdk/abi/asm/mem.s"));
core::arch::global_asm!(include_str!("mem.s"));

/// The generic counter's current value (CNTPCT_EL0), in ticks since reset.
#[inline]
pub fn counter() -> u64 {
    // SAFETY: an ISB orders the counter read after earlier instructions; no memory is touched.
    unsafe { core::arch::asm!("isb", options(nomem, nostack)) };
    CNTPCT_EL0.get()
}

/// The generic counter without the ISB before it: the read may happen a few instructions early,
/// which accounting (a thread's CPU time at a switch) does not mind.
#[inline]
pub fn counter_unordered() -> u64 {
    CNTPCT_EL0.get()
}

/// The generic counter's frequency in Hz, as the firmware (or QEMU) programmed CNTFRQ_EL0.
#[inline]
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get() & 0xFFFF_FFFF
}

/// Unmasks IRQs on this core.
pub fn irq_enable() {
    // SAFETY: clearing the I bit lets interrupts in; the handlers are installed before this.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack)) };
}

/// Waits for an interrupt.
#[inline]
pub fn wait_for_interrupt() {
    aarch64_cpu::asm::wfi();
}

/// Stops this core for good: interrupts masked, waiting forever.
pub fn halt() -> ! {
    crate::sync::irq_save();
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// This core's MPIDR_EL1 affinity bits (Aff2..Aff0).
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_ffff
}

/// This core's affinity number (MPIDR Aff0).
pub fn core_id() -> u64 {
    MPIDR_EL1.get() & 0xff
}

/// What MIDR_EL1 says about this CPU.
#[derive(Clone, Copy, Debug)]
pub struct CpuId {
    /// Raw MIDR_EL1.
    pub midr: u64,
}

impl CpuId {
    /// Reads this core's MIDR_EL1.
    pub fn current() -> Self {
        CpuId {
            midr: MIDR_EL1.get(),
        }
    }

    /// The implementer's name.
    pub fn implementer(&self) -> &'static str {
        match (self.midr >> 24) & 0xff {
            0x41 => "Arm",
            0x42 => "Broadcom",
            0x51 => "Qualcomm",
            0x61 => "Apple",
            0x00 => "QEMU (no implementer)",
            _ => "unknown implementer",
        }
    }

    /// The part's name, for the Arm cores Keel meets.
    pub fn part(&self) -> &'static str {
        if (self.midr >> 24) & 0xff != 0x41 {
            return "unknown part";
        }
        match (self.midr >> 4) & 0xfff {
            0xd03 => "Cortex-A53",
            0xd04 => "Cortex-A35",
            0xd05 => "Cortex-A55",
            0xd07 => "Cortex-A57",
            0xd08 => "Cortex-A72",
            0xd09 => "Cortex-A73",
            0xd0b => "Cortex-A76",
            0xd0c => "Neoverse-N1",
            _ => "unknown Arm part",
        }
    }

    /// Variant and revision as `rVpR`.
    pub fn revision(&self) -> (u64, u64) {
        ((self.midr >> 20) & 0xf, self.midr & 0xf)
    }
}
