//! In-kernel tests, built only into test kernels (`--features qemu-test`).
//!
//! They run after boot on the real hardware model and report through the semihosting exit status:
//! `keel.test=NAME` picks a scenario (`fault`, `panic`, `stack-overflow`), otherwise every test
//! runs and the kernel exits with PASS or FAIL.

use alloc::boxed::Box;
use alloc::vec::Vec;

use keel_abi::test_exit;
use keel_boot::layout::{Sections, KERNEL_VA};
use keel_core::cmdline::Cmdline;

use crate::arch::{self, exceptions};
use crate::module::tests as module_tests;
use crate::sched::{self, Thread, WaitQueue};
use crate::{dt, irq, klog, mm, time};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use keel_vfs::Node;

type TestResult = Result<(), &'static str>;
/// A named in-kernel test.
type Test = (&'static str, fn() -> TestResult);

fn check(cond: bool, what: &'static str) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

fn frames_alloc_and_free() -> TestResult {
    let (_, before) = mm::phys::stats();
    let one = mm::phys::alloc_pages(1).ok_or("cannot allocate one page")?;
    let eight = mm::phys::alloc_pages(8).ok_or("cannot allocate eight pages")?;
    check(one % mm::PAGE_SIZE == 0, "page not aligned")?;
    check(
        eight % (8 * mm::PAGE_SIZE) == 0,
        "8-page block not aligned to its size",
    )?;
    check(one != eight, "the same frame was handed out twice")?;
    // The pages are usable through the direct map.
    let p = mm::phys_to_virt(eight) as *mut u64;
    // SAFETY: the eight pages were just allocated and are mapped in the direct map.
    unsafe {
        p.write_volatile(0x5a5a_1234);
        check(
            p.read_volatile() == 0x5a5a_1234,
            "direct-map write not read back",
        )?;
    }
    mm::phys::free_pages(one, 1);
    mm::phys::free_pages(eight, 8);
    check(mm::phys::stats().1 == before, "frames leaked")
}

/// The kernel's `memcpy` and `memset` (`sdk/abi/asm/mem.s`) against the obvious byte loops, for
/// every length up to 300 and every alignment of source and destination within 16 bytes:
/// exactly the bytes asked for change, to the right values.
fn mem_routines_match_bytes() -> TestResult {
    extern "C" {
        fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
        fn memset(dst: *mut u8, byte: i32, n: usize) -> *mut u8;
    }
    const ROOM: usize = 340;
    const UNTOUCHED: u8 = 0xEE;
    let mut src = [0u8; ROOM];
    for (i, b) in src.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(3);
    }
    let mut dst = [0u8; ROOM];
    // Fills `dst`, lets `op` write `n` bytes at `d_off` (it returns what the routine returned),
    // then checks the return value, the bytes around and, with `expect`, the bytes written.
    let mut run = |d_off: usize,
                   n: usize,
                   op: &dyn Fn(*mut u8) -> *mut u8,
                   expect: &dyn Fn(&[u8]) -> bool|
     -> TestResult {
        dst.fill(UNTOUCHED);
        let at = dst.as_mut_ptr().wrapping_add(d_off);
        check(
            op(at) == at,
            "a mem routine does not return its destination",
        )?;
        check(
            dst[..d_off].iter().all(|&b| b == UNTOUCHED)
                && dst[d_off + n..].iter().all(|&b| b == UNTOUCHED),
            "a mem routine wrote outside its range",
        )?;
        check(
            expect(&dst[d_off..d_off + n]),
            "a mem routine wrote wrong bytes",
        )
    };
    for n in 0..=300usize {
        for (s_off, d_off) in (0..16).flat_map(|s| (0..16).map(move |d| (s, d))) {
            let from = &src[s_off..s_off + n];
            run(
                d_off,
                n,
                // SAFETY: both ranges lie inside the arrays (offset < 16, n <= 300, ROOM = 340)
                // and do not overlap (two arrays).
                &|at| unsafe { memcpy(at, from.as_ptr(), n) },
                &|written| written == from,
            )?;
        }
        for (d_off, byte) in (0..16).flat_map(|d| [(d, 0u8), (d, 0xA7)]) {
            run(
                d_off,
                n,
                // SAFETY: the range lies inside the array.
                &|at| unsafe { memset(at, i32::from(byte), n) },
                &|written| written.iter().all(|&b| b == byte),
            )?;
        }
    }
    Ok(())
}

fn heap_grows_and_frees() -> TestResult {
    const BIG: usize = 12 << 20;
    let (used_before, total_before) = mm::heap::stats();
    // Twice: the first round makes the heap grow from frames, the second fits in it.
    for fill in [0xa5u8, 0x5a] {
        let big: Vec<u8> = alloc::vec![fill; BIG];
        let boxed = Box::new([7u64; 64]);
        check(big.iter().all(|&b| b == fill), "heap memory corrupted")?;
        check(boxed[63] == 7, "box contents wrong")?;
        let (used, total) = mm::heap::stats();
        check(used >= used_before + BIG, "live allocations not counted")?;
        check(
            total >= total_before.max(BIG),
            "the heap did not grow for a 12 MiB vector",
        )?;
        drop(big);
        drop(boxed);
        check(mm::heap::stats().0 == used_before, "heap bytes leaked")?;
    }
    Ok(())
}

/// Small blocks of every size class and odd alignments come back intact, a freed small block is
/// reused by the next allocation of its class, and the live-bytes figure is exact throughout.
fn heap_small_blocks() -> TestResult {
    use core::alloc::Layout;
    let mut held = Vec::with_capacity(64);
    let (used_before, _) = mm::heap::stats();
    let mut requested = 0;
    for (i, size) in [1usize, 7, 16, 17, 100, 255, 256, 1000, 2048, 2049, 5000]
        .into_iter()
        .enumerate()
    {
        for align in [1usize, 8, 64] {
            let layout = Layout::from_size_align(size, align).map_err(|_| "bad layout")?;
            // SAFETY: a non-zero size; freed below with the same layout.
            let p = unsafe { alloc::alloc::alloc(layout) };
            check(!p.is_null(), "small allocation failed")?;
            check(
                (p as usize).is_multiple_of(align),
                "small allocation misaligned",
            )?;
            // SAFETY: `size` bytes were just allocated at `p`.
            unsafe { p.write_bytes(i as u8, size) };
            held.push((p, layout, i as u8));
            requested += size;
        }
    }
    check(
        mm::heap::stats().0 == used_before + requested,
        "live bytes miscounted",
    )?;
    for &(p, layout, fill) in &held {
        // SAFETY: written above and still allocated.
        let intact = unsafe { core::slice::from_raw_parts(p, layout.size()) }
            .iter()
            .all(|&b| b == fill);
        check(intact, "a small block was overwritten")?;
    }
    let layout = Layout::from_size_align(100, 8).map_err(|_| "bad layout")?;
    for (p, layout, _) in held.drain(..) {
        // SAFETY: allocated above with this layout.
        unsafe { alloc::alloc::dealloc(p, layout) };
    }
    check(mm::heap::stats().0 == used_before, "small blocks leaked")?;
    // Empty the class's list first (more allocations than it keeps), so the next free is kept.
    // Nothing else may allocate meanwhile (an interrupt handler's work).
    let daif = crate::sync::irq_save();
    let drained: Vec<*mut u8> = (0..mm::heap::CACHED_PER_CLASS + 1)
        // SAFETY: non-zero size; freed below with the same layout.
        .map(|_| unsafe { alloc::alloc::alloc(layout) })
        .collect();
    let a = drained[0];
    // SAFETY: allocated above with this layout.
    unsafe { alloc::alloc::dealloc(a, layout) };
    // SAFETY: as above; freed below.
    let b = unsafe { alloc::alloc::alloc(layout) };
    crate::sync::irq_restore(daif);
    let reused = a == b;
    for p in drained.into_iter().skip(1).chain([b]) {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { alloc::alloc::dealloc(p, layout) };
    }
    check(reused, "a freed small block was not reused")?;
    check(
        mm::heap::stats().0 == used_before,
        "live bytes miscounted after reuse",
    )
}

fn device_tree_has_essentials() -> TestResult {
    check(!dt::model().is_empty(), "no model")?;
    let tree = dt::tree().ok_or("no tree")?;
    check(tree.memory().regions().count() > 0, "no memory regions")?;
    check(
        dt::find_compatible(&["arm,gic-400", "arm,cortex-a15-gic"]).is_some(),
        "no GIC",
    )?;
    check(dt::find_compatible(&["arm,pl011"]).is_some(), "no PL011")
}

fn timer_ticks() -> TestResult {
    let freq = arch::counter_frequency();
    check(freq > 0, "CNTFRQ is 0")?;
    // Start right after a tick, so a tick that was due before the test (and delayed by the
    // host) does not count.
    time::wait_ticks(1, 2_000_000_000);
    let start = arch::counter();
    let seen = time::wait_ticks(5, 2_000_000_000);
    check(
        seen >= 5,
        "the timer interrupt did not tick 5 times within 2 s",
    )?;
    let elapsed = arch::counter() - start;
    // Five more ticks cannot come in less than four periods.
    check(
        elapsed >= 4 * freq / time::HZ,
        "ticks came faster than the programmed period",
    )?;
    check(
        irq::count(30) > 0 || irq::count(26) > 0 || irq::count(27) > 0,
        "no timer interrupts counted",
    )
}

fn exception_round_trip() -> TestResult {
    let before = exceptions::breakpoints_stepped();
    // SAFETY: the sync handler recognises this immediate and resumes after the instruction.
    unsafe { core::arch::asm!("brk #0x4b45") };
    check(
        exceptions::breakpoints_stepped() == before + 1,
        "breakpoint not taken and resumed",
    )
}

/// The kernel's `memcmp` (`arch/mem.s`) orders byte strings as a byte loop does, for every
/// length, offset and position of the first difference, above and below.
fn memcmp_orders_bytes() -> TestResult {
    extern "C" {
        fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    }
    let a: [u8; 40] = core::array::from_fn(|i| (i * 7 + 3) as u8);
    for len in 0..24 {
        for start in 0..9 {
            for differ in (0..len).map(Some).chain([None]) {
                for delta in [1u8, 0x80, 0xff] {
                    let mut b = a;
                    if let Some(at) = differ {
                        b[start + at] = b[start + at].wrapping_add(delta);
                    }
                    let (x, y) = (&a[start..start + len], &b[start..start + len]);
                    // SAFETY: both ranges are `len` readable bytes.
                    let got = unsafe { memcmp(x.as_ptr(), y.as_ptr(), len) }.signum();
                    let want = x.iter().zip(y).find(|(p, q)| p != q);
                    let want = want.map_or(0, |(p, q)| if p < q { -1 } else { 1 });
                    check(got == want, "memcmp disagrees with a byte loop")?;
                }
            }
        }
    }
    Ok(())
}

fn image_is_w_xor_x() -> TestResult {
    let s = Sections::current();
    let text = mm::map::translate(s.image_start + 0x1000).ok_or("text not mapped")?;
    check(text.perm.exec && !text.perm.write, "text must be RX")?;
    let ro = mm::map::translate(s.rodata_start).ok_or("rodata not mapped")?;
    check(!ro.perm.exec && !ro.perm.write, "rodata must be R")?;
    let data = mm::map::translate(s.data_start).ok_or("data not mapped")?;
    check(!data.perm.exec && data.perm.write, "data must be RW")?;
    check(
        mm::map::translate(s.stack_guard).is_none(),
        "the stack guard page is mapped",
    )?;
    check(s.image_start == KERNEL_VA, "image not at KERNEL_VA")
}

fn device_mapping_is_idempotent() -> TestResult {
    let uart = dt::find_compatible(&["arm,pl011"]).ok_or("no PL011")?;
    let pa = uart.regs()[0].0;
    let a = mm::map_device(pa, 0x1000).map_err(|_| "first mapping failed")?;
    let b = mm::map_device(pa, 0x1000).map_err(|_| "second mapping failed")?;
    check(a == b, "the same registers got two addresses")
}

/// On a board with the firmware mailbox (raspi4b): the property interface answers
/// GET_CLOCK_RATE for the EMMC2 clock (12) with a rate; elsewhere it says there is no mailbox.
fn firmware_answers() -> TestResult {
    const GET_CLOCK_RATE: u32 = 0x0003_0002;
    let mut values = [12u32, 0];
    let result = crate::firmware::property(GET_CLOCK_RATE, &mut values);
    if dt::find_compatible(&["brcm,bcm2835-mbox"]).is_none() {
        return check(
            result == Err(keel_abi::Errno::ENODEV),
            "a firmware property call without a mailbox did not say ENODEV",
        );
    }
    check(result.is_ok(), "the firmware did not answer GET_CLOCK_RATE")?;
    log::info!(target: "ktest", "firmware: clock 12 runs at {} Hz", values[1]);
    check(
        values[0] == 12 && values[1] > 0,
        "the firmware gave no rate for clock 12",
    )
}

/// On a board with an ECAM bridge: the host bridge is found, every assigned memory BAR reads
/// back from configuration space with decoding on, and an SDHCI host's registers answer
/// through its BAR.
fn pci_resources_are_live() -> TestResult {
    if dt::find_compatible(&["pci-host-ecam-generic"]).is_none() {
        return Ok(());
    }
    let devices = crate::pci::devices();
    check(
        devices
            .iter()
            .any(|d| d.function.vendor == 0x1b36 && d.function.device == 0x0008),
        "the host bridge 1b36:0008 was not found",
    )?;
    for d in devices {
        let at = d.function.at;
        check(
            d.function.interrupt_pin == 0 || d.irq.is_some_and(|i| i >= 32),
            "an interrupt pin was not routed to an SPI",
        )?;
        for b in d.bars.iter().flatten() {
            if b.bar.kind == keel_core::pci::BarKind::Io || b.cpu == 0 {
                continue;
            }
            let reg = keel_core::pci::BAR0 + 4 * b.bar.index as u16;
            check(
                crate::pci::config_read32(at, reg) & !0xf == b.bar.address as u32 & !0xf,
                "a BAR does not read back its assigned address",
            )?;
            check(
                b.bar.address.is_multiple_of(b.bar.size),
                "a BAR is not aligned to its size",
            )?;
            check(
                crate::pci::config_read32(at, keel_core::pci::COMMAND) & 2 != 0,
                "memory decoding is off for a device with an assigned BAR",
            )?;
            if d.function.class == 0x08_05_01 && b.bar.index == 0 {
                let regs = mm::map_device(b.cpu, b.bar.size).map_err(|_| "cannot map BAR0")?;
                // SAFETY: BAR0 of an SDHCI host was just mapped; 0xFC is its slot status and
                // version register, which reading does not change.
                let version = unsafe { ((regs + 0xfc) as *const u32).read_volatile() } >> 16;
                log::info!(target: "ktest", "{at}: SDHCI version register {version:#06x} through BAR0");
                check(
                    version != 0 && version != 0xffff,
                    "the SDHCI host does not answer through its BAR",
                )?;
            }
        }
    }
    Ok(())
}

fn log_ring_keeps_lines() -> TestResult {
    log::info!(target: "ktest", "ring marker 8c1f");
    let mut buf = alloc::vec![0u8; klog::RING_SIZE];
    let r = klog::read(0, &mut buf);
    let text = core::str::from_utf8(&buf[..r.bytes]).map_err(|_| "ring holds invalid UTF-8")?;
    check(
        text.contains("ktest: ring marker 8c1f"),
        "the marker line is not in the ring",
    )
}

fn irq_rejects_bad_line() -> TestResult {
    let r = irq::register(5000, "bogus", None, Box::new(|_| irq::IrqReturn::Handled));
    check(
        matches!(r, Err(irq::IrqError::OutOfRange { .. })),
        "interrupt 5000 was accepted",
    )
}

fn irq_shared_line_dispatch() -> TestResult {
    use core::sync::atomic::{AtomicU64, Ordering};
    static FIRST: AtomicU64 = AtomicU64::new(0);
    static SECOND: AtomicU64 = AtomicU64::new(0);
    // The highest SPI: no device in either tree uses it.
    let line = irq::lines() - 1;
    let a = irq::register(
        line,
        "not-mine",
        Some(irq::Trigger::Level),
        Box::new(|_| {
            FIRST.fetch_add(1, Ordering::Relaxed);
            irq::IrqReturn::NotMine
        }),
    )
    .map_err(|_| "first registration failed")?;
    let b = irq::register(
        line,
        "mine",
        None,
        Box::new(|_| {
            SECOND.fetch_add(1, Ordering::Relaxed);
            irq::IrqReturn::Handled
        }),
    )
    .map_err(|_| "second registration failed")?;
    irq::raise(line).map_err(|_| "raise failed")?;
    let deadline = time::uptime_nanos() + 1_000_000_000;
    while SECOND.load(Ordering::Relaxed) == 0 && time::uptime_nanos() < deadline {
        core::hint::spin_loop();
    }
    check(
        FIRST.load(Ordering::Relaxed) == 1,
        "the first handler on the shared line was not asked",
    )?;
    check(
        SECOND.load(Ordering::Relaxed) == 1,
        "the second handler on the shared line did not run",
    )?;
    check(irq::count(line) == 1, "the line's count is not 1")?;
    irq::unregister(a).map_err(|_| "unregister failed")?;
    check(irq::is_enabled(line), "line masked while a handler remains")?;
    irq::unregister(b).map_err(|_| "unregister failed")?;
    check(!irq::is_enabled(line), "line still enabled with no handler")?;
    check(
        irq::unregister(b) == Err(irq::IrqError::NotRegistered),
        "double unregister accepted",
    )
}

/// With interrupts masked, a raised interrupt waits; [`crate::sync::interrupt_window`] and
/// [`crate::sync::wait_for_interrupt_window`] let it run and leave interrupts masked again.
fn interrupt_window_lets_pending_in() -> TestResult {
    use aarch64_cpu::registers::{Readable, DAIF};
    static RAN: AtomicU64 = AtomicU64::new(0);
    // The highest SPI, routed to this core (the boot core) like every SPI.
    let line = irq::lines() - 1;
    let registration = irq::register(
        line,
        "window",
        None,
        Box::new(|_| {
            RAN.fetch_add(1, Ordering::Relaxed);
            irq::IrqReturn::Handled
        }),
    )
    .map_err(|_| "registration failed")?;
    let daif = crate::sync::irq_save();
    let raised = irq::raise(line);
    for _ in 0..10_000 {
        core::hint::spin_loop();
    }
    let while_masked = RAN.load(Ordering::Relaxed);
    crate::sync::interrupt_window();
    let after_window = RAN.load(Ordering::Relaxed);
    let masked_after_window = DAIF.is_set(DAIF::I);
    let raised_again = irq::raise(line);
    crate::sync::wait_for_interrupt_window();
    let after_wait = RAN.load(Ordering::Relaxed);
    let masked_after_wait = DAIF.is_set(DAIF::I);
    crate::sync::irq_restore(daif);
    irq::unregister(registration).map_err(|_| "unregister failed")?;
    check(raised.is_ok() && raised_again.is_ok(), "raise failed")?;
    check(while_masked == 0, "the interrupt ran while masked")?;
    check(after_window == 1, "the window did not let the interrupt in")?;
    check(after_wait == 2, "the wait did not end with the interrupt")?;
    check(
        masked_after_window && masked_after_wait,
        "interrupts were left unmasked",
    )
}

/// Work shared by the scheduler tests' threads.
struct Shared {
    runs: AtomicU64,
    done: AtomicU64,
    go: AtomicBool,
    wait: WaitQueue,
}

static SHARED: Shared = Shared {
    runs: AtomicU64::new(0),
    done: AtomicU64::new(0),
    go: AtomicBool::new(false),
    wait: WaitQueue::new(),
};

/// A kernel thread that yields a few times, then waits for `go`, then finishes.
extern "C" fn worker(rounds: usize) {
    for _ in 0..rounds {
        SHARED.runs.fetch_add(1, Ordering::SeqCst);
        sched::yield_now();
    }
    let _ = SHARED
        .wait
        .wait_until(|| SHARED.go.load(Ordering::SeqCst).then_some(()));
    SHARED.done.fetch_add(1, Ordering::SeqCst);
}

/// Spins (yielding) until `cond` or about 2 s passed.
fn wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = time::uptime_nanos() + 2_000_000_000;
    while !cond() && time::uptime_nanos() < deadline {
        sched::yield_now();
        core::hint::spin_loop();
    }
    cond()
}

fn threads_switch_block_and_wake() -> TestResult {
    const THREADS: u64 = 4;
    const ROUNDS: usize = 5;
    let switches = sched::total_switches();
    let mut threads = alloc::vec::Vec::new();
    for i in 0..THREADS {
        let name = alloc::format!("ktest/{i}");
        let t = Thread::new(&name, sched::thread::PRIO_KERNEL, worker, ROUNDS, None)
            .ok_or("cannot create a kernel thread")?;
        check(t.name == name, "thread keeps its name")?;
        sched::start(&t);
        threads.push(t);
    }
    check(
        wait_for(|| SHARED.runs.load(Ordering::SeqCst) == THREADS * ROUNDS as u64),
        "the threads did not all run their rounds",
    )?;
    check(
        wait_for(|| SHARED.wait.has_waiters()),
        "the threads did not block on the wait queue",
    )?;
    // One wake_one does not release a thread whose condition is still false...
    SHARED.wait.wake_one();
    check(
        wait_for(|| SHARED.wait.has_waiters()),
        "a woken thread with a false condition must wait again",
    )?;
    // ...and once the condition holds, every thread finishes.
    SHARED.go.store(true, Ordering::SeqCst);
    SHARED.wait.wake_all();
    check(
        wait_for(|| SHARED.done.load(Ordering::SeqCst) == THREADS),
        "the woken threads did not finish",
    )?;
    check(
        wait_for(|| threads.iter().all(|t| t.state() == sched::State::Dead)),
        "finished threads are not dead",
    )?;
    check(
        sched::total_switches() >= switches + THREADS,
        "too few context switches counted",
    )
}

fn sleep_lasts_its_time() -> TestResult {
    let start = time::uptime_nanos();
    check(sched::sleep(15_000_000), "sleep was interrupted")?;
    check(
        time::uptime_nanos() - start >= 15_000_000,
        "sleep returned before its deadline",
    )
}

fn tmp_and_dev_are_mounted() -> TestResult {
    use keel_abi::types::{O_CREAT, O_RDWR};
    check(
        crate::fs::devfs().lookup("console").is_ok(),
        "/dev/console is not registered",
    )?;
    let before = crate::fs::tmp_usage();
    let f = keel_vfs::open(crate::fs::vfs(), "/", "/tmp/ktest", O_CREAT | O_RDWR, 0o644)
        .map_err(|_| "cannot create /tmp/ktest")?;
    f.write(b"0123456789")
        .map_err(|_| "cannot write /tmp/ktest")?;
    check(
        crate::fs::tmp_usage() == before + 10,
        "/tmp does not count the bytes written",
    )?;
    drop(f);
    crate::fs::vfs()
        .unlink("/", "/tmp/ktest")
        .map_err(|_| "cannot remove /tmp/ktest")?;
    check(
        crate::fs::tmp_usage() == before,
        "/tmp did not give the bytes back",
    )
}

const TESTS: &[Test] = &[
    (
        "threads_switch_block_and_wake",
        threads_switch_block_and_wake,
    ),
    ("sleep_lasts_its_time", sleep_lasts_its_time),
    ("tmp_and_dev_are_mounted", tmp_and_dev_are_mounted),
    ("irq_shared_line_dispatch", irq_shared_line_dispatch),
    (
        "interrupt_window_lets_pending_in",
        interrupt_window_lets_pending_in,
    ),
    ("frames_alloc_and_free", frames_alloc_and_free),
    ("mem_routines_match_bytes", mem_routines_match_bytes),
    ("heap_grows_and_frees", heap_grows_and_frees),
    ("heap_small_blocks", heap_small_blocks),
    ("device_tree_has_essentials", device_tree_has_essentials),
    ("timer_ticks", timer_ticks),
    ("exception_round_trip", exception_round_trip),
    ("memcmp_orders_bytes", memcmp_orders_bytes),
    ("image_is_w_xor_x", image_is_w_xor_x),
    ("device_mapping_is_idempotent", device_mapping_is_idempotent),
    ("pci_resources_are_live", pci_resources_are_live),
    ("firmware_answers", firmware_answers),
    ("log_ring_keeps_lines", log_ring_keeps_lines),
    ("irq_rejects_bad_line", irq_rejects_bad_line),
    ("module_params_split", module_tests::params_split),
    ("module_modalias", module_tests::modalias_matches_tree),
    ("module_modalias_pci", module_tests::modalias_matches_pci),
    ("module_malformed", module_tests::malformed_refused),
    ("module_lifecycle", module_tests::lifecycle),
    ("module_exports", module_tests::exports_accounted),
    ("module_exports_resolve", module_tests::exports_resolve),
    ("device_pins_module", module_tests::device_pins_module),
    (
        "irq_shared_modules",
        module_tests::irq_shared_between_modules,
    ),
];

#[inline(never)]
fn deliberate_fault() {
    let p = 0xdead_0000_0000usize as *mut u64;
    // SAFETY: deliberately unsound: this write faults, to show the fault report.
    unsafe { p.write_volatile(1) };
}

#[inline(never)]
fn deliberate_recursion(depth: u64) -> u64 {
    let pad = [depth; 64];
    core::hint::black_box(&pad);
    if depth == u64::MAX {
        return 0;
    }
    deliberate_recursion(depth + 1) + pad[3]
}

/// Runs the scenario the command line asks for; returns the status for the whole run.
pub fn run(cmdline: Cmdline) -> u8 {
    match cmdline.get("keel.test") {
        Some("fault") => {
            log::info!(target: "ktest", "writing to an unmapped address on purpose");
            deliberate_fault();
            log::error!(target: "ktest", "the deliberate fault did not fault");
            arch::semihosting::exit(test_exit::FAIL)
        }
        Some("panic") => panic!("deliberate panic requested by keel.test=panic"),
        Some("stack-overflow") => {
            log::info!(target: "ktest", "recursing into the guard page on purpose");
            let n = deliberate_recursion(0);
            log::error!(target: "ktest", "recursion returned {n}");
            arch::semihosting::exit(test_exit::FAIL)
        }
        Some(other) if other != "all" => {
            log::error!(target: "ktest", "unknown keel.test scenario {other:?}");
            arch::semihosting::exit(test_exit::FAIL)
        }
        _ => {}
    }
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        match test() {
            Ok(()) => {
                passed += 1;
                log::info!(target: "ktest", "{name} ... ok");
            }
            Err(why) => {
                failed += 1;
                log::error!(target: "ktest", "{name} ... FAILED: {why}");
            }
        }
    }
    log::info!(target: "ktest", "{passed} passed, {failed} failed");
    if failed == 0 {
        test_exit::PASS
    } else {
        test_exit::FAIL
    }
}
