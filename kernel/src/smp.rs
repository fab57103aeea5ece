//! Bringing up the other cores: PSCI `CPU_ON` where the device tree's `enable-method` says
//! "psci" (QEMU `virt`), the spin table where it says "spin-table" (the loop the Pi 4's firmware
//! parks the cores in, which QEMU `raspi4b` reproduces).
//!
//! Each core enters `secondary_entry` in `boot/src/entry.s` at its physical address with the MMU
//! off, drops to EL1, loads the kernel's translation registers from `secondary_boot`, switches the
//! MMU on, takes its stack from `secondary_stacks[Aff0]` and calls [`secondary_main`], which sets up
//! its GIC interface, its timer tick and its scheduler state, then idles until work arrives.

use core::sync::atomic::Ordering;

use aarch64_cpu::registers::{Readable, MAIR_EL1, TCR_EL1};

use crate::sched::{self, thread::KernelStack, MAX_CPUS};

const PSCI_CPU_ON: u64 = 0xC400_0003;

extern "C" {
    static mut secondary_boot: [u64; 8];
    static mut secondary_stacks: [u64; 8];
    static mut secondary_release: [u64; 8];
    fn secondary_entry();
}

/// The kernel-stack of each secondary core, handed over to its idle thread.
static STACKS: spin::Mutex<[Option<KernelStack>; MAX_CPUS]> =
    spin::Mutex::new([const { None }; MAX_CPUS]);

/// Cleans and invalidates `[addr, addr + len)` to the point of coherency (for memory that
/// another observer reads or writes behind the caches: a core with its MMU off, the firmware).
pub fn clean_to_poc(addr: u64, len: u64) {
    let mut line = addr & !63;
    while line < addr + len {
        // SAFETY: cache maintenance by address on mapped kernel memory.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) line) };
        line += 64;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// Starts every core the device tree lists; returns how many are online, this one included.
pub fn start_secondaries() -> usize {
    let Some(tree) = crate::dt::tree() else {
        return 1;
    };
    // What each secondary loads before its MMU is on.
    let image_pa = crate::mm::image_phys().0;
    let to_pa = |va: u64| va - keel_boot::layout::KERNEL_VA + image_pa;
    // SAFETY: written before any secondary starts; cleaned to the point of coherency so the
    // secondaries, reading with caches off, see it.
    unsafe {
        let boot = &mut *core::ptr::addr_of_mut!(secondary_boot);
        boot[0] = MAIR_EL1.get();
        boot[1] = TCR_EL1.get() & !(1 << 7); // EPD0 clear: the identity map is walked
        boot[2] = keel_boot::early::idmap_root_pa();
        boot[3] = keel_boot::early::kernel_root_pa();
        clean_to_poc(boot.as_ptr() as u64, 64);
    }
    let entry_pa = to_pa(secondary_entry as *const () as u64);
    let me = crate::arch::mpidr() & 0xff_ffff;
    let mut index = 1;
    for cpu in tree.cpus() {
        let Some(mpidr) = cpu.ids().all().next() else {
            continue;
        };
        let mpidr = mpidr as u64;
        if mpidr == me || index >= MAX_CPUS {
            continue;
        }
        let aff0 = (mpidr & 0xff) as usize;
        if aff0 >= 8 {
            log::warn!(target: "smp", "core {mpidr:#x}: Aff0 above 7 is not supported");
            continue;
        }
        let Some(stack) = KernelStack::new() else {
            log::error!(target: "smp", "no memory for core {mpidr:#x}'s stack");
            break;
        };
        // SAFETY: only this code writes the slot, before the core starts.
        unsafe {
            (*core::ptr::addr_of_mut!(secondary_stacks))[aff0] = stack.top();
        }
        STACKS.lock()[index] = Some(stack);
        let cpu_data = sched::cpu(index).expect("index below MAX_CPUS");
        cpu_data.mpidr.store(mpidr, Ordering::Release);
        let method = cpu
            .property("enable-method")
            .and_then(|p| p.as_str())
            .unwrap_or("");
        let started = match method {
            "psci" => match crate::power::psci(PSCI_CPU_ON, mpidr, entry_pa, index as u64) {
                Some(0) => true,
                other => {
                    log::warn!(target: "smp", "core {mpidr:#x}: PSCI CPU_ON failed ({other:?})");
                    false
                }
            },
            "spin-table" => match cpu.property("cpu-release-addr").and_then(|p| p.as_usize()) {
                Some(release) => {
                    let slot = crate::mm::phys_to_virt(release as u64) as *mut u64;
                    // SAFETY: the release address is RAM in the direct map that the parked core's
                    // firmware loop polls; writing the entry point and cleaning the line is the documented
                    // protocol. Cores parked by our own entry code poll secondary_release.
                    unsafe {
                        slot.write_volatile(entry_pa);
                        clean_to_poc(slot as u64, 8);
                        let ours = &mut *core::ptr::addr_of_mut!(secondary_release);
                        ours[aff0] = entry_pa;
                        clean_to_poc(ours.as_ptr() as u64, 64);
                        core::arch::asm!("sev");
                    }
                    true
                }
                None => {
                    log::warn!(target: "smp", "core {mpidr:#x}: spin-table without cpu-release-addr");
                    false
                }
            },
            other => {
                log::warn!(target: "smp", "core {mpidr:#x}: unknown enable-method {other:?}");
                false
            }
        };
        if !started {
            STACKS.lock()[index] = None;
            continue;
        }
        // Wait (bounded) for the core to report.
        let deadline = crate::time::uptime_nanos() + 1_000_000_000;
        while !cpu_data.online.load(Ordering::Acquire) && crate::time::uptime_nanos() < deadline {
            core::hint::spin_loop();
        }
        if cpu_data.online.load(Ordering::Acquire) {
            index += 1;
        } else {
            log::error!(target: "smp", "core {mpidr:#x} did not come up");
        }
    }
    sched::online()
}

/// The Rust entry of a secondary core (from `secondary_upper` in `entry.s`), on its own stack.
#[no_mangle]
extern "C" fn secondary_main(aff0: u64) -> ! {
    let mpidr = crate::arch::mpidr();
    let index = (1..MAX_CPUS)
        .find(|&i| {
            sched::cpu(i).is_some_and(|c| c.mpidr.load(Ordering::Acquire) == (mpidr & 0xff_ffff))
        })
        .unwrap_or(aff0 as usize);
    sched::enter_cpu(index);
    let stack = STACKS.lock()[index].take();
    crate::proc::aspace::activate_kernel_only();
    sched::init_cpu(index, stack);
    match crate::irq::init_secondary() {
        Ok(mask) => sched::this_cpu().gic_mask.store(mask, Ordering::Relaxed),
        Err(e) => log::error!(target: "smp", "core {index}: {e}"),
    }
    crate::time::init_secondary();
    crate::arch::irq_enable();
    sched::idle_loop()
}
