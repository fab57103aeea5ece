//! In-kernel tests of the module subsystem (test kernels only), run by `ktest`.
//!
//! The real modules come from the initramfs (`/lib/modules`); a boot without one skips the tests
//! that need them (and says so). Every failing case checks that the frame allocator, the heap,
//! the module region and the module table are back where they started.

use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::module::{ErrorCode, ModuleHandle};
use keel_abi::Errno;

use super::exports::EXPORTS;
use super::loader::{self, LoadError};
use super::{contain, region, State};
use crate::fs::FileBytes;
use crate::mm;

type TestResult = Result<(), &'static str>;

fn check(cond: bool, what: &'static str) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

/// What a load or unload must give back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    /// Frames allocated, not counting those the heap grew by.
    frames: u64,
    /// Bytes of live heap allocations.
    heap: usize,
    /// Spans of the module region in use.
    spans: usize,
    /// Modules in the table.
    modules: usize,
}

fn counters() -> Counters {
    // Deferred work started by the boot or by the test itself (a partition scan, a failed
    // driver's teardown) allocates and frees on the work thread: let it finish first.
    if !crate::dev::work::wait_idle(2_000) {
        log::warn!(target: "ktest", "the work queue did not go idle within 2 s");
    }
    let (_, allocated) = mm::phys::stats();
    let (heap, heap_total) = mm::heap::stats();
    let heap_frames = (heap_total as u64).saturating_sub(mm::heap::INITIAL_BYTES) / mm::PAGE_SIZE;
    Counters {
        frames: allocated - heap_frames,
        heap,
        spans: region::usage().0,
        modules: super::count(),
    }
}

/// Checks the counters are back at `before`, logging both sets when they are not.
fn unchanged(before: Counters, what: &'static str) -> TestResult {
    let after = counters();
    if after != before {
        log::error!(target: "ktest", "{what}: before {before:?}, after {after:?}");
        return Err(what);
    }
    Ok(())
}

fn module_file(name: &str) -> Option<FileBytes> {
    crate::fs::read_file("/", &alloc::format!("/lib/modules/{name}.ko")).ok()
}

/// The modules the tests use, or `None` (with a note) when this boot has no `/lib/modules`.
fn modules() -> Option<[FileBytes; 5]> {
    let all = ["hello", "mathcore", "mathuser", "failinit", "faulty"].map(module_file);
    if all.iter().any(Option::is_none) {
        log::warn!(target: "ktest", "no /lib/modules in this boot (no initramfs): module file tests skipped");
        return None;
    }
    Some(all.map(|m| m.unwrap_or(FileBytes::Static(&[]))))
}

/// Removes the modules `/etc/modules` loaded at boot, so the tests start from an empty table.
fn empty_table() -> TestResult {
    loop {
        // The guard must end before `remove` takes the lock again.
        let first = super::TABLE.lock().first().map(|m| m.name.clone());
        let Some(name) = first else { break };
        super::remove(&name).map_err(|e| {
            log::error!(target: "ktest", "cannot remove {name}: {e}");
            "a module loaded at boot does not unload"
        })?;
    }
    Ok(())
}

/// Replaces every occurrence of `from` in `bytes` by `to` (same length); returns how many.
fn patch_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The offset of the header of the section called `name` in the ELF object `bytes`.
fn section_header(bytes: &[u8], name: &[u8]) -> Option<usize> {
    let word = |at: usize, len: usize| -> Option<usize> {
        let mut value = 0usize;
        for (i, b) in bytes.get(at..at + len)?.iter().enumerate() {
            value |= usize::from(*b) << (8 * i);
        }
        Some(value)
    };
    let (shoff, shnum, shstrndx) = (word(40, 8)?, word(60, 2)?, word(62, 2)?);
    let names = word(shoff + shstrndx * 64 + 24, 8)?;
    (0..shnum).map(|i| shoff + i * 64).find(|&header| {
        word(header, 4)
            .and_then(|at| bytes.get(names + at..))
            .is_some_and(|rest| rest.starts_with(name) && rest.get(name.len()) == Some(&0))
    })
}

/// Loads `image` expecting a failure that `is_expected` accepts with `errno`, then checks nothing
/// leaked.
fn refuses(
    label: &'static str,
    image: &[u8],
    params: &str,
    errno: Errno,
    is_expected: impl Fn(&LoadError) -> bool,
) -> TestResult {
    let before = counters();
    match loader::load(image, params) {
        Ok(loaded) => {
            log::error!(target: "ktest", "{label}: loaded as {} although it must be refused", loaded.name);
            let _ = super::remove(&loaded.name);
            return Err("a bad module was loaded");
        }
        Err(e) => {
            log::info!(target: "ktest", "{label}: refused: {e}");
            if !is_expected(&e) || e.errno() != errno {
                log::error!(target: "ktest", "{label}: wrong error {e:?} ({}), expected errno {}", e.errno(), errno);
                return Err("a bad module was refused with the wrong error");
            }
        }
    }
    let after = counters();
    if after != before {
        log::error!(target: "ktest", "{label}: leaked: before {before:?}, after {after:?}");
        return Err("a refused module leaked memory");
    }
    Ok(())
}

/// A 64-byte ELF64 header of type `e_type` for machine `machine`, and nothing else.
fn elf_header(machine: u16, e_type: u16) -> [u8; 64] {
    let mut h = [0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // little endian
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&e_type.to_le_bytes());
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h
}

/// Malformed images, each refused with its own error and leaving nothing behind.
pub fn malformed_refused() -> TestResult {
    use keel_modload::LoadError as Elf;
    refuses("empty", &[], "", Errno::ENOEXEC, |e| {
        matches!(e, LoadError::Elf(Elf::TooShort { len: 0 }))
    })?;
    let mut random = [0u8; 4096];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in random.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    refuses("random bytes", &random, "", Errno::ENOEXEC, |e| {
        matches!(e, LoadError::Elf(Elf::BadMagic))
    })?;
    refuses(
        "x86-64 object",
        &elf_header(62, 1),
        "",
        Errno::ENOEXEC,
        |e| matches!(e, LoadError::Elf(Elf::WrongMachine { machine: 62 })),
    )?;
    refuses("executable", &elf_header(183, 2), "", Errno::ENOEXEC, |e| {
        matches!(e, LoadError::Elf(Elf::NotRelocatable { e_type: 2 }))
    })?;
    let Some([hello, mathcore, mathuser, failinit, faulty]) = modules() else {
        return Ok(());
    };
    empty_table()?;
    refuses(
        "truncated",
        &hello[..hello.len() / 2],
        "",
        Errno::ENOEXEC,
        |e| matches!(e, LoadError::Elf(_)),
    )?;

    let mut wrong_abi = hello.to_vec();
    check(
        patch_all(&mut wrong_abi, b"abi=1\0", b"abi=2\0") == 1
            && patch_all(&mut wrong_abi, b"keel-abi-1 ", b"keel-abi-2 ") == 1,
        "hello.ko's .modinfo has no abi=1 / vermagic to patch",
    )?;
    refuses(
        "wrong ABI",
        &wrong_abi,
        "",
        Errno::ENOEXEC,
        |e| matches!(e, LoadError::WrongAbi { abi, .. } if abi == "2"),
    )?;

    let mut unknown = hello.to_vec();
    check(
        patch_all(&mut unknown, b"keel_log_write\0", b"keel_log_wrong\0") >= 2,
        "hello.ko does not import keel_log_write",
    )?;
    refuses(
        "unknown symbol",
        &unknown,
        "",
        Errno::ENOENT,
        |e| matches!(e, LoadError::UnknownSymbol { symbol, .. } if symbol == "keel_log_wrong"),
    )?;

    let mut mismatch = hello.to_vec();
    let hash = keel_abi::exports::hash_of("keel_log_write")
        .unwrap_or(0)
        .to_le_bytes();
    let at = mismatch
        .windows(60)
        .position(|w| w.starts_with(b"keel_log_write\0") && w[56..60] == hash)
        .ok_or("hello.ko has no signature record for keel_log_write")?;
    mismatch[at + 56] ^= 0xff;
    refuses(
        "signature mismatch",
        &mismatch,
        "",
        Errno::ENOEXEC,
        |e| matches!(e, LoadError::HashMismatch { symbol, .. } if symbol == "keel_log_write"),
    )?;

    let mut no_descriptor = hello.to_vec();
    check(
        patch_all(&mut no_descriptor, b"__keel_module\0", b"__keel_modulX\0") >= 1,
        "hello.ko has no __keel_module symbol",
    )?;
    refuses("no descriptor", &no_descriptor, "", Errno::ENOEXEC, |e| {
        matches!(e, LoadError::NoDescriptor(_))
    })?;

    // A prelinked module whose rodata claims another place than the loader gives it.
    let mut misplaced = hello.to_vec();
    let header = section_header(&misplaced, b".rodata").ok_or("hello.ko has no .rodata")?;
    let recorded = u64::from_le_bytes(
        misplaced[header + 16..header + 24]
            .try_into()
            .map_err(|_| "short header")?,
    );
    misplaced[header + 16..header + 24].copy_from_slice(&(recorded + 0x1000).to_le_bytes());
    refuses(
        "misplaced",
        &misplaced,
        "",
        Errno::ENOEXEC,
        |e| matches!(e, LoadError::Elf(Elf::Misplaced { section, placed, .. }) if section == ".rodata" && *placed == recorded),
    )?;

    refuses(
        "missing dependency",
        &mathuser,
        "",
        Errno::ENOENT,
        |e| matches!(e, LoadError::MissingDependency { dependency, .. } if dependency == "mathcore"),
    )?;
    refuses(
        "unknown parameter",
        &hello,
        "colour=red",
        Errno::EINVAL,
        |e| matches!(e, LoadError::UnknownParameter { parameter, .. } if parameter == "colour"),
    )?;
    refuses(
        "bad parameter value",
        &hello,
        "count=-1",
        Errno::EINVAL,
        |e| matches!(e, LoadError::BadParameter { parameter, .. } if parameter == "count"),
    )?;
    refuses("init fails", &failinit, "", Errno::ENODEV, |e| {
        matches!(e, LoadError::InitFailed { errno: 19, .. })
    })?;

    // Duplicate name: mathcore loaded once, then again.
    let before = counters();
    loader::load(&mathcore, "").map_err(|_| "mathcore does not load")?;
    refuses(
        "duplicate name",
        &mathcore,
        "",
        Errno::EALREADY,
        |e| matches!(e, LoadError::AlreadyLoaded(n) if n == "mathcore"),
    )?;
    super::remove("mathcore").map_err(|_| "mathcore does not unload")?;
    unchanged(before, "loading and removing mathcore leaked")?;

    // A fault and a panic in init: the module stays, failed, until removed.
    for fault in ["fault=init", "fault=panic"] {
        let before = counters();
        match loader::load(&faulty, fault) {
            Err(e @ LoadError::InitFailedHard { .. }) => check(
                e.errno() == Errno::EMODFAILED,
                "init fault is not EMODFAILED",
            )?,
            _ => return Err("faulty's init fault was not contained as a failure"),
        }
        check(
            super::find("faulty").map(|(_, s)| s) == Some(State::Failed),
            "faulty is not marked failed",
        )?;
        super::remove("faulty").map_err(|_| "a failed module cannot be removed")?;
        unchanged(before, "a module that failed in init leaked after removal")?;
    }
    Ok(())
}

/// A module loads W^X in the module region near the kernel, runs with its parameters, pins its
/// dependency, and unloading gives everything back.
pub fn lifecycle() -> TestResult {
    let Some([hello, mathcore, mathuser, _, faulty]) = modules() else {
        return Ok(());
    };
    empty_table()?;
    let before = counters();
    let id = loader::load(&hello, "greeting=\"hi there\" count=2")
        .map_err(|e| {
            log::error!(target: "ktest", "hello: {e}");
            "hello does not load"
        })?
        .id;
    check(
        super::state_of(id) == Some(State::Live),
        "hello is not live",
    )?;
    let [(text, _), (rodata, rodata_len), (data, _)] = {
        let table = super::TABLE.lock();
        let m = table
            .iter()
            .find(|m| m.id == id)
            .ok_or("hello not in the table")?;
        m.memory.ranges()
    };
    check(
        (region::REGION_START..region::REGION_END).contains(&text),
        "module text outside the module region",
    )?;
    let t = mm::map::translate(text).ok_or("module text not mapped")?;
    check(t.perm.exec && !t.perm.write, "module text is not RX")?;
    if rodata_len > 0 {
        let r = mm::map::translate(rodata).ok_or("module rodata not mapped")?;
        check(!r.perm.exec && !r.perm.write, "module rodata is not R")?;
    }
    let d = mm::map::translate(data).ok_or("module data not mapped")?;
    check(!d.perm.exec && d.perm.write, "module data is not RW")?;
    super::remove("hello").map_err(|_| "hello does not unload")?;
    unchanged(before, "unloading hello did not give everything back")?;
    check(
        matches!(
            super::remove("hello"),
            Err(super::UnloadError::NotLoaded(_))
        ),
        "removing an unloaded module is not `not loaded`",
    )?;

    // Dependencies pin their providers.
    loader::load(&mathcore, "").map_err(|_| "mathcore does not load")?;
    loader::load(&mathuser, "a=0x54 b=36").map_err(|_| "mathuser does not load")?;
    match super::remove("mathcore") {
        Err(super::UnloadError::InUse { users, .. }) if users == "mathuser" => {}
        _ => return Err("mathcore was not refused as in use by mathuser"),
    }
    super::remove("mathuser").map_err(|_| "mathuser does not unload")?;
    super::remove("mathcore").map_err(|_| "mathcore does not unload")?;
    unchanged(before, "mathcore + mathuser leaked")?;

    // A fault in exit: failed, then removable.
    loader::load(&faulty, "fault=exit").map_err(|_| "faulty fault=exit does not load")?;
    check(
        matches!(
            super::remove("faulty"),
            Err(super::UnloadError::ExitFailed { .. })
        ),
        "a fault in exit was not reported",
    )?;
    super::remove("faulty").map_err(|_| "faulty (failed in exit) cannot be removed")?;
    unchanged(before, "faulty fault=exit leaked")
}

/// A driver's device: its `/dev` node appears, an open file pins the module (`rmmod` names the
/// node), and once closed the module unloads and gives everything back.
pub fn device_pins_module() -> TestResult {
    let Some([.., faulty]) = modules() else {
        return Ok(());
    };
    empty_table()?;
    let before = counters();
    let devices = crate::dev::count();
    loader::load(&faulty, "fault=device").map_err(|_| "faulty fault=device does not load")?;
    check(
        crate::dev::count() == devices + 1,
        "faulty registered no device",
    )?;
    let file = keel_vfs::open(
        crate::fs::vfs(),
        "/",
        "/dev/faulty0",
        keel_abi::types::O_RDWR,
        0,
    )
    .map_err(|_| "/dev/faulty0 does not open")?;
    match super::remove("faulty") {
        Err(super::UnloadError::InUse { users, .. }) if users.starts_with("/dev/faulty0 (pid") => {}
        _ => return Err("rmmod faulty was not refused while /dev/faulty0 is open"),
    }
    drop(file);
    super::remove("faulty").map_err(|_| "faulty does not unload once its device is closed")?;
    check(
        crate::dev::count() == devices,
        "the device outlived its module",
    )?;
    check(
        crate::fs::vfs().resolve("/", "/dev/faulty0").is_err(),
        "/dev/faulty0 outlived its module",
    )?;
    check(counters() == before, "faulty fault=device leaked")
}

static IRQ_CALLS: AtomicU64 = AtomicU64::new(0);

/// A stand-in for a module's IRQ handler (the containment entry calls any AAPCS64 function).
unsafe extern "C" fn counting_handler(_context: *mut c_void) -> u32 {
    IRQ_CALLS.fetch_add(1, Ordering::Relaxed);
    keel_abi::module::irq_return::HANDLED
}

/// Leaks two heap blocks as module `arg` would: called through the containment entry.
extern "C" fn leaky(_arg: usize) -> u64 {
    // SAFETY: valid sizes and alignments; the blocks are deliberately left for the unload.
    unsafe {
        let a = (EXPORTS.keel_alloc)(100, 8);
        let b = (EXPORTS.keel_alloc)(4096, 4096);
        (a as u64) | (b as u64)
    }
}

/// The exports account per module: MMIO refuses RAM, IRQ handlers and heap blocks are taken
/// back when the module goes away.
pub fn exports_accounted() -> TestResult {
    let Some([hello, ..]) = modules() else {
        return Ok(());
    };
    empty_table()?;
    let before = counters();
    let id = loader::load(&hello, "")
        .map_err(|_| "hello does not load")?
        .id;
    let handle = ModuleHandle(id as usize);
    let mut va = 0usize;
    let ram = crate::dt::tree()
        .and_then(|t| t.memory().regions().next())
        .ok_or("no RAM in the device tree")?
        .starting_address as u64;
    // SAFETY: `va` is a valid place for the result.
    let st = unsafe { (EXPORTS.keel_mmio_map)(handle, ram + 0x10_0000, 0x1000, &mut va) };
    check(
        st == ErrorCode::InvalidArgument.to_status(),
        "keel_mmio_map mapped normal RAM",
    )?;
    let uart = crate::dt::find_compatible(&["arm,pl011"])
        .ok_or("no PL011")?
        .regs()[0]
        .0;
    // SAFETY: as above.
    check(
        unsafe { (EXPORTS.keel_mmio_map)(handle, uart, 0x1000, &mut va) } == 0 && va != 0,
        "keel_mmio_map refused a device",
    )?;
    check(
        super::exports::hardware_of(id).1 == 1,
        "mapping not recorded",
    )?;

    let line = crate::irq::lines() - 1;
    // SAFETY: the handler is an AAPCS64 function valid for any context.
    let st = unsafe {
        (EXPORTS.keel_irq_register)(handle, line, counting_handler, core::ptr::null_mut())
    };
    check(st == 0, "keel_irq_register failed")?;
    // SAFETY: as above.
    let again = unsafe {
        (EXPORTS.keel_irq_register)(handle, line, counting_handler, core::ptr::null_mut())
    };
    check(
        again == ErrorCode::Busy.to_status(),
        "a taken line was not EBUSY",
    )?;
    crate::irq::raise(line).map_err(|_| "cannot raise the line")?;
    let deadline = crate::time::uptime_nanos() + 1_000_000_000;
    while IRQ_CALLS.load(Ordering::Relaxed) == 0 && crate::time::uptime_nanos() < deadline {
        core::hint::spin_loop();
    }
    check(
        IRQ_CALLS.load(Ordering::Relaxed) == 1,
        "the module's IRQ handler did not run",
    )?;

    let blocks = contain::call(id, leaky as *const () as usize, 0);
    check(matches!(blocks, Ok(b) if b != 0), "keel_alloc failed")?;
    check(
        super::exports::allocations_of(id).0 == 2,
        "heap blocks not attributed to the module",
    )?;

    super::remove("hello").map_err(|_| "hello does not unload")?;
    check(
        !crate::irq::is_enabled(line),
        "the module's IRQ line is still enabled",
    )?;
    check(
        super::exports::hardware_of(id) == (0, 0),
        "the module's IRQ handler or mapping survived it",
    )?;
    let after = counters();
    if after != before {
        log::error!(target: "ktest", "exports: before {before:?}, after {after:?}");
        return Err("the module's leftovers were not freed");
    }
    Ok(())
}

static SHARED_QUIET: AtomicU64 = AtomicU64::new(0);
static SHARED_CLAIMING: AtomicU64 = AtomicU64::new(0);

/// A shared handler whose device did not interrupt.
unsafe extern "C" fn quiet_handler(_context: *mut c_void) -> u32 {
    SHARED_QUIET.fetch_add(1, Ordering::Relaxed);
    keel_abi::module::irq_return::NONE
}

/// A shared handler whose device did.
unsafe extern "C" fn claiming_handler(_context: *mut c_void) -> u32 {
    SHARED_CLAIMING.fetch_add(1, Ordering::Relaxed);
    keel_abi::module::irq_return::HANDLED
}

/// Two modules share an interrupt line: both handlers run, the one whose device interrupted
/// claims it, the line stays enabled; an exclusive registration is refused on a shared line and
/// a shared one on an exclusive line.
pub fn irq_shared_between_modules() -> TestResult {
    let Some([hello, mathcore, ..]) = modules() else {
        return Ok(());
    };
    empty_table()?;
    let before = counters();
    let a = loader::load(&hello, "")
        .map_err(|_| "hello does not load")?
        .id;
    let b = loader::load(&mathcore, "")
        .map_err(|_| "mathcore does not load")?
        .id;
    let (a, b) = (ModuleHandle(a as usize), ModuleHandle(b as usize));
    let line = crate::irq::lines() - 2;
    let null = core::ptr::null_mut();
    // SAFETY: the handlers are AAPCS64 functions valid in any context.
    let first = unsafe { (EXPORTS.keel_irq_register_shared)(a, line, quiet_handler, null) };
    // SAFETY: as above.
    let second = unsafe { (EXPORTS.keel_irq_register_shared)(b, line, claiming_handler, null) };
    check(
        first == 0 && second == 0,
        "two shared handlers were not both accepted",
    )?;
    // SAFETY: as above.
    let exclusive = unsafe { (EXPORTS.keel_irq_register)(b, line, claiming_handler, null) };
    check(
        exclusive == ErrorCode::Busy.to_status(),
        "an exclusive handler was accepted on a shared line",
    )?;
    let other = crate::irq::lines() - 3;
    // SAFETY: as above.
    let own = unsafe { (EXPORTS.keel_irq_register)(a, other, claiming_handler, null) };
    // SAFETY: as above.
    let onto = unsafe { (EXPORTS.keel_irq_register_shared)(b, other, quiet_handler, null) };
    check(
        own == 0 && onto == ErrorCode::Busy.to_status(),
        "a shared handler was accepted on an exclusive line",
    )?;
    let (quiet, claiming) = (
        SHARED_QUIET.load(Ordering::Relaxed),
        SHARED_CLAIMING.load(Ordering::Relaxed),
    );
    crate::irq::raise(line).map_err(|_| "cannot raise the line")?;
    let deadline = crate::time::uptime_nanos() + 1_000_000_000;
    while (SHARED_QUIET.load(Ordering::Relaxed) == quiet
        || SHARED_CLAIMING.load(Ordering::Relaxed) == claiming)
        && crate::time::uptime_nanos() < deadline
    {
        core::hint::spin_loop();
    }
    check(
        SHARED_QUIET.load(Ordering::Relaxed) == quiet + 1
            && SHARED_CLAIMING.load(Ordering::Relaxed) == claiming + 1,
        "not every handler of the shared line ran once",
    )?;
    check(
        crate::irq::is_enabled(line),
        "the shared line was masked although one handler claimed it",
    )?;
    super::remove("hello").map_err(|_| "hello does not unload")?;
    check(
        crate::irq::is_enabled(line) && crate::irq::handler_count(line) == 1,
        "removing one sharer disturbed the other",
    )?;
    super::remove("mathcore").map_err(|_| "mathcore does not unload")?;
    check(
        !crate::irq::is_enabled(line) && !crate::irq::is_enabled(other),
        "lines stayed enabled after their modules went",
    )?;
    let after = counters();
    if after != before {
        log::error!(target: "ktest", "shared irq: before {before:?}, after {after:?}");
        return Err("the modules' leftovers were not freed");
    }
    Ok(())
}

/// The modalias matcher finds enabled device-tree nodes by `compatible`.
pub fn modalias_matches_tree() -> TestResult {
    let alias = "# test aliases\narm,pl011 fakeuart\narm,pl011 fakeuart\nno,such-device nothing\n";
    let found: Vec<_> = super::boot::aliases_for_tree(alias);
    check(found.len() == 1, "expected exactly one match")?;
    check(
        found[0].0 == "fakeuart" && found[0].1 == "arm,pl011",
        "the PL011 node did not match its alias",
    )
}

/// The modalias matcher finds PCI functions by id and by class (on a machine with an SDHCI host
/// on its PCI bus; elsewhere there is nothing to match).
pub fn modalias_matches_pci() -> TestResult {
    let sdhci = crate::pci::devices()
        .iter()
        .any(|d| d.function.class == 0x08_0501 && d.function.vendor == 0x1b36);
    let alias = "pci:v0000d0000 nothing\npci:c080501 byclass\npci:v1B36d0007 byid\n";
    let found = super::boot::aliases_for_pci(alias);
    if !sdhci {
        return check(
            found.is_empty(),
            "a PCI alias matched without a PCI function",
        );
    }
    check(
        found
            .iter()
            .any(|(m, a)| m == "byid" && a == "pci:v1B36d0007"),
        "the SDHCI function did not match its id alias",
    )?;
    check(
        found
            .iter()
            .any(|(m, a)| m == "byclass" && a == "pci:c080501"),
        "the SDHCI function did not match its class alias",
    )?;
    check(
        !found.iter().any(|(m, _)| m == "nothing"),
        "an alias of no function matched",
    )
}

/// Parameter text splits like a shell would (quotes group words).
pub fn params_split() -> TestResult {
    let p = loader::split_params("greeting=\"hi there\" count=3 verbose")
        .map_err(|_| "split failed")?;
    check(p.len() == 3, "wrong parameter count")?;
    check(
        p[0].0 == "greeting" && p[0].1.as_deref() == Some("hi there"),
        "quoted value not kept whole",
    )?;
    check(
        p[2].0 == "verbose" && p[2].1.is_none(),
        "bare name not kept",
    )?;
    check(
        loader::split_params("a=\"open").is_err(),
        "an unterminated quote was accepted",
    )
}

/// Resolving a kernel export by name with the importer's hash as a hint finds what the search by
/// name finds, whatever the hint.
pub fn exports_resolve() -> TestResult {
    for entry in EXPORTS.entries() {
        for hint in [entry.hash, entry.hash ^ 1, 0] {
            check(
                EXPORTS.resolve(entry.name, hint) == Some((entry.hash, entry.address)),
                "resolve differs from the export list",
            )?;
        }
    }
    check(
        EXPORTS.resolve("keel_no_such_export", 0).is_none(),
        "an unknown name resolved",
    )
}
