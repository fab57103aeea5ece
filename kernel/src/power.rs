//! Powering off and rebooting, by whatever the device tree offers.
//!
//! QEMU `virt` (and firmware with TF-A) offers PSCI: `SYSTEM_OFF` / `SYSTEM_RESET` through the
//! conduit `/psci/method` names. The stock Pi 4 firmware has no PSCI; there the BCM2711 power
//! manager's watchdog resets the chip, and a reset with the "partition 63" marker in RSTS is the
//! halt that the firmware (and QEMU `raspi4b`) treats as power-off.

use core::fmt::Write;

use crate::console::Writer;

const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;

/// PM register offsets and values (BCM2711 ARM Peripherals; Linux bcm2835_wdt.c).
const PM_RSTC: usize = 0x1c;
const PM_RSTS: usize = 0x20;
const PM_WDOG: usize = 0x24;
const PM_PASSWORD: u32 = 0x5a00_0000;
const PM_RSTC_WRCFG_CLR: u32 = 0xffff_ffcf;
const PM_RSTC_WRCFG_FULL_RESET: u32 = 0x0000_0020;
const PM_RSTS_PARTITION_CLR: u32 = 0xffff_faaa;
/// Partition 63 spread over RSTS's even bits: "halt" to the firmware.
const PM_RSTS_HALT: u32 = 0x555;
const PM_WDOG_TICKS: u32 = 10;

const PM_COMPATIBLE: &[&str] = &["brcm,bcm2711-pm", "brcm,bcm2835-pm", "brcm,bcm2835-pm-wdt"];

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Turn the machine off.
    Off,
    /// Restart it.
    Reboot,
}

/// Calls PSCI `function` with up to three arguments through the conduit `/psci/method` names;
/// `None` when the machine has no PSCI.
pub fn psci(function: u64, a1: u64, a2: u64, a3: u64) -> Option<i64> {
    let psci = crate::dt::tree()?.find_node("/psci")?;
    let method = psci.property("method").and_then(|p| p.as_str())?;
    let mut ret = function;
    match method {
        // SAFETY: a PSCI call into the firmware or hypervisor, with its documented arguments.
        "hvc" => unsafe {
            core::arch::asm!("hvc #0", inout("x0") ret, in("x1") a1, in("x2") a2, in("x3") a3, options(nostack))
        },
        // SAFETY: as above.
        "smc" => unsafe {
            core::arch::asm!("smc #0", inout("x0") ret, in("x1") a1, in("x2") a2, in("x3") a3, options(nostack))
        },
        _ => return None,
    }
    Some(ret as i64)
}

fn psci_call(function: u64) -> Option<i64> {
    psci(function, 0, 0, 0)
}

fn pm_watchdog(action: Action) -> bool {
    let Some(dev) = crate::dt::find_compatible(PM_COMPATIBLE) else {
        return false;
    };
    let Some(&(pa, _)) = dev.regs().first() else {
        return false;
    };
    let Ok(base) = crate::mm::map_device(pa, 0x100) else {
        return false;
    };
    let reg = |off: usize| (base + off) as *mut u32;
    // SAFETY: the PM block was just mapped as device memory; these are its documented registers,
    // each write carrying the PM password.
    unsafe {
        if action == Action::Off {
            let rsts = reg(PM_RSTS).read_volatile();
            reg(PM_RSTS)
                .write_volatile(PM_PASSWORD | (rsts & PM_RSTS_PARTITION_CLR) | PM_RSTS_HALT);
        }
        reg(PM_WDOG).write_volatile(PM_PASSWORD | PM_WDOG_TICKS);
        let rstc = reg(PM_RSTC).read_volatile();
        reg(PM_RSTC)
            .write_volatile(PM_PASSWORD | (rstc & PM_RSTC_WRCFG_CLR) | PM_RSTC_WRCFG_FULL_RESET);
    }
    true
}

/// Powers off or reboots. Returns only if no mechanism worked.
pub fn shutdown(action: Action) {
    let (verb, psci_fn) = match action {
        Action::Off => ("off", PSCI_SYSTEM_OFF),
        Action::Reboot => ("reboot", PSCI_SYSTEM_RESET),
    };
    if crate::dt::tree()
        .and_then(|t| t.find_node("/psci"))
        .is_some()
    {
        log::info!(target: "power", "{verb} (PSCI {})", if action == Action::Off { "SYSTEM_OFF" } else { "SYSTEM_RESET" });
        crate::console::flush();
        if let Some(err) = psci_call(psci_fn) {
            log::error!(target: "power", "PSCI call failed with {err}");
        }
    }
    if crate::dt::find_compatible(PM_COMPATIBLE).is_some() {
        log::info!(target: "power", "{verb} (PM watchdog {})", if action == Action::Off { "halt" } else { "reset" });
        crate::console::flush();
        if pm_watchdog(action) {
            // The watchdog fires within a few of its 16 us ticks.
            let start = crate::time::uptime_nanos();
            while crate::time::uptime_nanos() - start < 100_000_000 {
                core::hint::spin_loop();
            }
        }
    }
    let _ = writeln!(
        Writer { emergency: true },
        "power: no way to {verb} this machine was found"
    );
}
