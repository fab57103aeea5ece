//! # Keel: the core kernel
//!
//! Keel is a hybrid kernel: what must be fast or must never fail lives here, in EL1 (exception
//! entry, the MMU, interrupt dispatch, the timer, the early console); drivers arrive later as
//! loadable ELF modules and services run in user space. This crate is the core.
//!
//! ```text
//!   firmware / QEMU
//!        |  x0 = device tree
//!   keel-boot (boot/)      Image header, EL3/EL2 -> EL1, park secondaries, boot tables, MMU on
//!        |  jump to the upper half
//!   kernel_main            console (board table) -> device tree -> console (stdout-path)
//!        |                 -> memory (direct map, frames, heap) -> GIC -> timer tick
//!        v
//!   arch/   exceptions, vectors, CPU id          dt.rs     the device tree, by compatible
//!   mm/     tables, frames, heap                 irq/      GICv2, handler registration
//!   klog    log facade -> console + ring         time.rs   generic-timer tick
//!   fault   fault reports with backtraces        power.rs  PSCI / PM watchdog
//! ```
//!
//! Pure logic (page-table encoding, ESR decoding, ranges, the log ring, symbols) lives in
//! `keel-core` and is tested on the host.
#![no_std]
#![no_main]
// Interfaces for loadable modules that only the in-kernel tests call so far; test builds (which
// exercise them) keep the dead-code lint on.
#![cfg_attr(not(feature = "qemu-test"), allow(dead_code))]

extern crate alloc;

mod arch;
mod board;
mod console;
mod dev;
mod dt;
mod fault;
mod firmware;
mod fs;
mod ipc;
mod irq;
mod klog;
mod kstats;
#[cfg(feature = "qemu-test")]
mod ktest;
mod mm;
mod module;
mod pci;
mod power;
mod proc;
mod sched;
mod smp;
mod sync;
mod syscall;
mod time;

use core::fmt::Write;

use keel_core::cmdline::Cmdline;

/// The kernel's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Attaches the early console to the PL011 at `pa`, with the board's clock and pin quirks.
fn attach_console(pa: u64, board: &board::Board, gpio_pa: Option<u64>) {
    if let (Some(pins), Some(gpio)) = (&board.console_pins, gpio_pa) {
        if let Ok(va) = mm::map_device(gpio, 0x100) {
            board::route_console_pins(pins, va);
        }
    }
    if let Ok(va) = mm::map_device(pa, 0x1000) {
        // SAFETY: `va` was just mapped as device memory over the UART's registers.
        unsafe { console::attach_pl011(va, board.uart_clock_hz, 115_200) };
    }
}

/// Moves the console to the UART the device tree names; returns its address, interrupt and a note.
fn console_from_tree(board: &board::Board) -> Option<(u64, Option<u32>, &'static str)> {
    let stdout = dt::stdout();
    let is_pl011 = |d: &dt::Device| {
        d.node
            .compatible()
            .is_some_and(|c| c.all().any(|s| s == "arm,pl011"))
    };
    let (dev, note) = match stdout {
        Some(d) if is_pl011(&d) => (d, "stdout-path"),
        _ => (
            dt::find_compatible(&["arm,pl011"])?,
            "first PL011; stdout-path names another UART",
        ),
    };
    let pa = dev.regs().first()?.0;
    let gpio =
        dt::find_compatible(&["brcm,bcm2711-gpio"]).and_then(|g| g.regs().first().map(|r| r.0));
    attach_console(
        pa,
        board,
        gpio.or(board.console_pins.as_ref().map(|p| p.gpio_base)),
    );
    Some((pa, dev.irqs().first().copied(), note))
}

fn banner() {
    log::info!(target: "boot", "Keel {VERSION} (aarch64): a hybrid kernel");
}

/// The kernel's Rust entry, called by `boot/src/entry.s` on the boot stack with the MMU on.
#[no_mangle]
pub extern "C" fn kernel_main(dtb_pa: u64, image_pa: u64) -> ! {
    sched::enter_cpu(0);
    klog::init(log::LevelFilter::Info);
    let early = board::by_load_address(image_pa);
    attach_console(
        early.early_uart,
        early,
        early.console_pins.as_ref().map(|p| p.gpio_base),
    );
    banner();
    log::info!(target: "boot", "loaded at {image_pa:#x}, early console at {:#x} ({} table entry)", early.early_uart, early.name);

    let (dtb_va_pa, dtb_size) = keel_boot::early::dtb();
    // SAFETY: the boot code mapped the tree's pages in the direct map; they stay reserved and
    // only the device-tree module touches them.
    let tree = unsafe {
        dt::init(
            mm::phys_to_virt(dtb_va_pa) as *mut u8,
            dtb_size as usize,
            dtb_pa,
        )
    };
    let tree = match tree {
        Ok(t) => t,
        Err(e) => {
            log::error!(target: "dt", "{e}");
            fault::stop(keel_abi::test_exit::FAIL)
        }
    };
    let compatible: strlist::StrList = tree.root().compatible().all().collect();
    let board = board::by_compatible(compatible.as_slice()).unwrap_or(early);
    board::set_current(board);
    let console_irq = match console_from_tree(board) {
        Some((pa, irq, note)) => {
            log::info!(target: "console", "PL011 at {pa:#x} ({note})");
            irq
        }
        None => None,
    };
    log::info!(target: "dt", "device tree at {dtb_pa:#x}, {dtb_size} bytes");
    log::info!(target: "board", "{}", dt::model());
    let cpu = arch::CpuId::current();
    let (variant, revision) = cpu.revision();
    let cpus = tree.cpus().count();
    log::info!(
        target: "cpu",
        "{} {} r{variant}p{revision} (MIDR {:#x}), {cpus} core(s) in the device tree, booting on core {}",
        cpu.implementer(),
        cpu.part(),
        cpu.midr,
        arch::core_id()
    );
    let cmdline = Cmdline::new(dt::bootargs());
    log::info!(target: "boot", "command line: {:?}", dt::bootargs());

    let mem = match mm::init() {
        Ok(m) => m,
        Err(e) => {
            log::error!(target: "mm", "{e}");
            fault::stop(keel_abi::test_exit::FAIL)
        }
    };
    for (s, e) in mem.ram.iter() {
        log::info!(target: "mm", "RAM bank {s:#x}-{e:#x}");
    }
    log::info!(target: "mm", "{} free range(s) after reservations", mem.usable.len());
    let (frames, _) = mm::phys::stats();
    log::info!(
        target: "mm",
        "RAM {} MiB, {} MiB free for allocation, kernel image {} KiB, boot tables {} pages",
        mem.ram.total() >> 20,
        (frames * mm::PAGE_SIZE) >> 20,
        mm::image_phys().1 >> 10,
        keel_boot::early::pool_used()
    );

    match irq::init() {
        Ok((base, lines, cpus)) => {
            log::info!(target: "irq", "GICv2 at {base:#x}, {lines} interrupt lines, {cpus} CPU interface(s)")
        }
        Err(e) => {
            log::error!(target: "irq", "{e}");
            fault::stop(keel_abi::test_exit::FAIL)
        }
    }
    match time::init() {
        Ok((freq, intid)) => {
            log::info!(target: "timer", "CNTFRQ {freq} Hz, tick {} Hz on interrupt {intid}", time::HZ)
        }
        Err(e) => {
            log::error!(target: "timer", "{e}");
            fault::stop(keel_abi::test_exit::FAIL)
        }
    }
    sched::init_cpu(0, None);
    sched::this_cpu().gic_mask.store(
        irq::own_target_mask(),
        core::sync::atomic::Ordering::Relaxed,
    );
    if let Err(e) = irq::register(
        sched::SGI_RESCHEDULE,
        "reschedule",
        None,
        alloc::boxed::Box::new(|_| irq::IrqReturn::Handled),
    ) {
        log::error!(target: "smp", "no reschedule interrupt: {e}");
    }
    arch::irq_enable();
    match console_irq.map(|i| (i, console::start_input(i, fs::tty::input))) {
        Some((i, Ok(()))) => log::info!(target: "console", "input by interrupt {i}"),
        Some((i, Err(e))) => log::warn!(target: "console", "no console input: interrupt {i}: {e}"),
        None => log::warn!(target: "console", "no console input: the UART has no interrupt"),
    }
    let cores = smp::start_secondaries();
    log::info!(target: "smp", "{cores} core(s) online");
    match fs::init(dt::initrd()) {
        Ok(r) if r.bytes > 0 => {
            log::info!(target: "fs", "initramfs: {} entries, {} KiB, mounted read-only at /", r.entries, r.bytes >> 10)
        }
        Ok(_) => log::warn!(target: "fs", "no initramfs: / holds only /dev and /tmp"),
        Err(e) => log::error!(target: "fs", "{e}"),
    }
    match pci::init() {
        Ok(0) => {}
        Ok(n) => log::info!(target: "pci", "{n} function(s) found"),
        Err(e) => log::error!(target: "pci", "{e}"),
    }
    if let Err(e) = dev::work::init() {
        log::error!(target: "dev", "{e}: drivers cannot defer work");
    }
    module::boot::load_at_boot();
    log::info!(target: "boot", "boot finished in {} us", time::uptime_nanos() / 1000);

    // A test build runs its tests; it powers off for real only when asked to after they pass.
    #[cfg(feature = "qemu-test")]
    {
        let status = ktest::run(cmdline);
        if status != keel_abi::test_exit::PASS || cmdline.get("keel.halt").is_none() {
            arch::semihosting::exit(status);
        }
    }
    after_boot(cmdline)
}

/// What the kernel does once booted: `keel.halt=poweroff|reboot`, or start `init` (the program
/// `keel.init=PATH` names, `/sbin/init` by default) and idle.
fn after_boot(cmdline: Cmdline) -> ! {
    match cmdline.get("keel.halt") {
        Some("poweroff") => {
            let ticks = time::wait_ticks(10, 2_000_000_000);
            log::info!(target: "timer", "{ticks} ticks while shutting down");
            power::shutdown(power::Action::Off);
        }
        Some("reboot") => power::shutdown(power::Action::Reboot),
        _ => start_init(cmdline.get("keel.init").unwrap_or("/sbin/init")),
    }
    sched::idle_loop()
}

fn start_init(path: &str) {
    let image = match fs::read_file("/", path) {
        Ok(i) => i,
        Err(e) => {
            log::error!(target: "init", "cannot read {path}: {e}; nothing to run");
            return;
        }
    };
    let started = fs::console_fds().and_then(|fds| proc::start_init(path, &image, fds));
    match started {
        Ok(pid) => log::info!(target: "init", "started {path} as pid {pid}"),
        Err(e) => log::error!(target: "init", "cannot start {path}: {e}"),
    }
}

/// A fixed-size list of string slices, for use before the heap exists.
mod strlist {
    /// Up to eight strings.
    pub struct StrList {
        items: [&'static str; 8],
        len: usize,
    }

    impl StrList {
        /// The collected strings.
        pub fn as_slice(&self) -> &[&'static str] {
            &self.items[..self.len]
        }
    }

    impl FromIterator<&'static str> for StrList {
        fn from_iter<I: IntoIterator<Item = &'static str>>(iter: I) -> Self {
            let mut s = StrList {
                items: [""; 8],
                len: 0,
            };
            for item in iter.into_iter().take(8) {
                s.items[s.len] = item;
                s.len += 1;
            }
            s
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut w = console::Writer { emergency: true };
    let _ = write!(w, "\nkernel panicked at ");
    match info.location() {
        Some(l) => {
            let _ = write!(w, "{}:{}:{}", l.file(), l.line(), l.column());
        }
        None => {
            let _ = write!(w, "an unknown location");
        }
    }
    let _ = writeln!(w, ": {}", info.message());
    fault::stop(keel_abi::test_exit::PANIC)
}
