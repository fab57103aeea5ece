//! `bench [--quick] [--only GROUP] [--poweroff]`: Keel's benchmarks. Times system calls, scheduling, IPC,
//! notifications, pipes, memory mapping, writes, module loading and the timer interrupt with the
//! generic counter (read at EL0), over batches after a warm-up, and prints one
//! `BENCH NAME VALUE UNIT ITERATIONS MIN MEDIAN` line per figure, then `BENCH-END`
//! (see the library). `--quick` runs fewer iterations; `--only GROUP` runs one group of figures
//! (`cargo xtask bench --profile GROUP` profiles it: the group runs between two calls of
//! `bench_profile_mark`); `--poweroff` powers off at the end, also after a failure, so an
//! unattended boot always ends.
//!
//! `cargo xtask bench` starts it from `/etc/inittab` after the shell, on one core, and waits until
//! the shell sits at its prompt before measuring, so nothing else is runnable. The partner
//! processes are this program again, started with a role: `bench yielder`, `bench ipc-server`
//! (register-only), `bench ipc-bytes-server`, `bench notify-peer` or `bench pipe-echo`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use bench::{line, ns_per_op, ring_samples, Summary, END};
use keel_abi::types::{O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE};
use keel_user::fs::{self, File, SeekFrom};
use keel_user::ipc::{Endpoint, Message, Notification};
use keel_user::process::{self, Command, Pid};
use keel_user::time::{counter, counter_frequency, kernel_stats};
use keel_user::{eprintln, io, mem, module, power, println};

keel_user::main!(main);

/// Whether to power off at the end (and on failure).
static POWEROFF: AtomicBool = AtomicBool::new(false);

/// The module loaded and unloaded by the module figures.
const MODULE: &str = "hello";
const MODULE_PATH: &str = "/lib/modules/hello.ko";
/// The bytes of one IPC message with bytes, and of one big write.
const IPC_BYTES: usize = 256;
const BIG_WRITE: usize = 64 * 1024;
/// Pages mapped at a time by the mapping figure.
const MAP_PAGES: usize = 16;
const PAGE: usize = 4096;
/// The SD card the benchmark boot attaches, the bytes one SD figure moves, and the size of each
/// read or write call.
const SD_DEVICE: &str = "/dev/mmcblk0";
const SD_BYTES: u64 = 1 << 20;
const SD_CHUNK: usize = 64 * 1024;

/// A group of figures: the plan and the path to start partner processes from.
type Group = fn(&Plan, &str);

/// The groups of figures `--only` takes, in the order a full run measures them.
const GROUPS: &[(&str, Group)] = &[
    ("syscalls", |plan, _| syscalls(plan)),
    ("switches", switches),
    ("ipc", ipc),
    ("notify", notify),
    ("pipe", pipe),
    ("mapping", |plan, _| mapping(plan)),
    ("writes", |plan, _| writes(plan)),
    ("sdcard", |plan, _| sdcard(plan)),
    ("modules", |plan, _| modules(plan)),
    ("timer", |plan, _| timer(plan)),
];

const USAGE: &str = "usage: bench [--quick] [--only GROUP] [--poweroff]";

fn main(args: keel_user::Args) -> i32 {
    // First, so that a usage error also powers off an unattended boot.
    if (1..).map_while(|i| args.arg(i)).any(|a| a == "--poweroff") {
        POWEROFF.store(true, Ordering::Relaxed);
    }
    let mut quick = false;
    let mut only = None;
    let mut i = 1;
    while let Some(arg) = args.arg(i) {
        match arg {
            "yielder" => yielder(),
            "ipc-server" => return ipc_server(),
            "ipc-bytes-server" => return ipc_bytes_server(),
            "notify-peer" => return notify_peer(),
            "pipe-echo" => return pipe_echo(),
            "--quick" => quick = true,
            "--only" => {
                i += 1;
                match GROUPS.iter().find(|(name, _)| Some(*name) == args.arg(i)) {
                    Some(&(_, group)) => only = Some(group),
                    None => {
                        eprintln!("bench: --only takes one of the groups:");
                        for (name, _) in GROUPS {
                            eprintln!("  {name}");
                        }
                        finish(2)
                    }
                }
            }
            "--poweroff" => {}
            _ => {
                eprintln!("{USAGE}");
                finish(2)
            }
        }
        i += 1;
    }
    let me = match args.arg(0) {
        Some(p) if p.contains('/') => p,
        _ => "/bin/bench",
    };
    let plan = Plan::new(quick);
    match only {
        Some(group) => {
            boot(&plan);
            bench_profile_mark();
            group(&plan, me);
            bench_profile_mark();
            println!("{END}");
        }
        None => run(&plan, me),
    }
    finish(0)
}

/// Called right before and right after the group `--only` runs: `cargo xtask bench --profile`
/// counts the instructions between its two calls.
#[no_mangle]
#[inline(never)]
extern "C" fn bench_profile_mark() {
    // Something the compiler cannot fold away, so the function keeps its own address.
    core::hint::black_box(());
}

/// How many batches and operations each figure takes.
struct Plan {
    /// Timed batches per figure (one more batch runs first as a warm-up).
    batches: usize,
    /// Divides the operations per batch.
    scale: u64,
    hz: u64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        Plan {
            batches: if quick { 3 } else { 11 },
            scale: if quick { 10 } else { 1 },
            hz: counter_frequency(),
        }
    }

    /// `ops` operations per batch, fewer when quick (at least one).
    fn ops(&self, ops: u64) -> u64 {
        (ops / self.scale).max(1)
    }

    /// Runs a warm-up batch of `ops` calls of `op`, then times `batches` batches.
    fn time(&self, ops: u64, mut op: impl FnMut()) -> Vec<u64> {
        for _ in 0..ops {
            op();
        }
        let mut ticks = Vec::with_capacity(self.batches);
        for _ in 0..self.batches {
            let start = counter();
            for _ in 0..ops {
                op();
            }
            ticks.push(counter() - start);
        }
        ticks
    }

    /// Prints the figure for `ticks` batches of `ops_per_batch` operations each.
    fn report(&self, name: &str, ticks: &[u64], ops_per_batch: u64) {
        if let Some(s) = Summary::of_batches(ticks, ops_per_batch, self.hz) {
            report(name, "ns", &s);
        }
    }

    fn ns(&self, ticks: u64) -> u64 {
        ns_per_op(ticks, self.hz, 1)
    }
}

fn report(name: &str, unit: &str, s: &Summary) {
    println!("{}", line(name, unit, s));
}

/// Ends the program: powers off when asked to, else exits with `status`.
fn finish(status: i32) -> ! {
    if POWEROFF.load(Ordering::Relaxed) {
        let e = power::poweroff();
        eprintln!("bench: poweroff: {e}");
    }
    process::exit(status)
}

/// Stops the benchmark after a failed call.
fn fail(what: &str, e: keel_user::Error) -> ! {
    eprintln!("bench: {what}: {e}");
    finish(1)
}

fn must<T>(r: keel_user::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| fail(what, e))
}

/// Starts this program again as `role`, with `handles`.
fn partner(me: &str, role: &str, handles: &[u32]) -> Pid {
    let mut command = Command::new(me);
    command.arg(role);
    for &h in handles {
        command.handle(h);
    }
    must(command.spawn(), role)
}

fn stop(pid: Pid) {
    let _ = process::kill(pid);
    let _ = process::wait(pid);
}

fn run(plan: &Plan, me: &str) {
    boot(plan);
    memory();
    for (_, group) in GROUPS {
        group(plan, me);
    }
    println!("{END}");
}

/// Boot to `/sbin/init` and to the shell's prompt, from the kernel's record. Waits (up to two
/// seconds) for the shell to sit at its prompt first.
fn boot(plan: &Plan) {
    let mut stats = must(kernel_stats(), "kstats");
    for _ in 0..200 {
        if stats.console_waited != 0 {
            break;
        }
        process::sleep_ms(10);
        stats = must(kernel_stats(), "kstats");
    }
    if stats.init_entered != 0 {
        report(
            "boot_to_init",
            "ns",
            &Summary::single(plan.ns(stats.init_entered)),
        );
    }
    if stats.console_waited != 0 {
        report(
            "boot_to_prompt",
            "ns",
            &Summary::single(plan.ns(stats.console_waited)),
        );
    }
}

/// Kernel memory in use: page frames not mapped into user space, and the heap's live bytes.
fn memory() {
    let m = must(mem::meminfo(), "meminfo");
    let used = m.total - m.free;
    report(
        "kernel_memory",
        "bytes",
        &Summary::single(used.saturating_sub(m.user)),
    );
    report("kernel_heap", "bytes", &Summary::single(m.heap_used));
}

fn syscalls(plan: &Plan) {
    let ops = plan.ops(1000);
    let ticks = plan.time(ops, || {
        core::hint::black_box(process::getppid());
    });
    plan.report("null_syscall", &ticks, ops);
    let ticks = plan.time(ops, process::yield_now);
    plan.report("yield", &ticks, ops);
}

/// Two processes on one core taking turns with `yield`: each yield switches to the other.
fn yielder() -> ! {
    loop {
        process::yield_now();
    }
}

fn switches(plan: &Plan, me: &str) {
    let pid = partner(me, "yielder", &[]);
    let ops = plan.ops(1000);
    let ticks = plan.time(ops, process::yield_now);
    stop(pid);
    // Each of our yields is two switches: to the partner and back.
    plan.report("context_switch", &ticks, 2 * ops);
}

/// Answers every call with its own label and words: a register-only server, as the fast path's
/// figure wants on both sides.
fn ipc_server() -> i32 {
    let ep = Endpoint::from_raw(0);
    let mut r = match ep.recv() {
        Ok(r) => r,
        Err(e) => fail("ipc-server: recv", e),
    };
    loop {
        r = match ep.reply_recv(r.msg) {
            Ok(r) => r,
            Err(e) => fail("ipc-server: reply_recv", e),
        };
    }
}

/// Answers every call with its own label and words, and bytes with the bytes received.
fn ipc_bytes_server() -> i32 {
    let ep = Endpoint::from_raw(0);
    let mut a = vec![0u8; IPC_BYTES];
    let mut b = vec![0u8; IPC_BYTES];
    let mut r = match ep.recv_with(&mut a) {
        Ok(r) => r,
        Err(e) => fail("ipc-bytes-server: recv", e),
    };
    loop {
        let n = r.len.min(IPC_BYTES);
        r = match ep.reply_recv_with(r.msg, &a[..n], &mut b) {
            Ok(r) => r,
            Err(e) => fail("ipc-bytes-server: reply_recv", e),
        };
        core::mem::swap(&mut a, &mut b);
    }
}

fn ipc(plan: &Plan, me: &str) {
    let ep = must(Endpoint::create(), "endpoint_create");
    let pid = partner(me, "ipc-server", &[ep.handle()]);
    let ops = plan.ops(1000);
    let msg = Message::new(1, [1, 2, 3, 4]);
    let ticks = plan.time(ops, || {
        must(ep.call(msg), "call");
    });
    plan.report("ipc_call_reply", &ticks, ops);
    stop(pid);
    let pid = partner(me, "ipc-bytes-server", &[ep.handle()]);
    let send = [0x5au8; IPC_BYTES];
    let mut recv = [0u8; IPC_BYTES];
    let ticks = plan.time(ops, || {
        let (_, n) = must(ep.call_with(msg, &send, &mut recv), "call with bytes");
        core::hint::black_box(n);
    });
    plan.report("ipc_call_reply_256b", &ticks, ops);
    stop(pid);
}

/// Waits on handle 0 and signals handle 1, forever.
fn notify_peer() -> i32 {
    let ping = Notification::from_raw(0);
    let pong = Notification::from_raw(1);
    loop {
        if let Err(e) = ping.wait().and_then(|_| pong.signal(1)) {
            fail("notify-peer", e);
        }
    }
}

fn notify(plan: &Plan, me: &str) {
    let ping = must(Notification::create(), "notify_create");
    let pong = must(Notification::create(), "notify_create");
    let pid = partner(me, "notify-peer", &[ping.handle(), pong.handle()]);
    let ops = plan.ops(1000);
    let ticks = plan.time(ops, || {
        must(ping.signal(1), "notify_signal");
        must(pong.wait(), "notify_wait");
    });
    stop(pid);
    // Each round trip delivers two notifications, each to a waiting process.
    plan.report("notify_delivery", &ticks, 2 * ops);
}

/// Copies stdin to stdout a byte at a time.
fn pipe_echo() -> i32 {
    let mut b = [0u8; 1];
    while let Ok(1) = io::read(io::STDIN, &mut b) {
        if io::write(io::STDOUT, &b).is_err() {
            break;
        }
    }
    0
}

fn pipe(plan: &Plan, me: &str) {
    let (to_read, to_write) = must(fs::pipe(), "pipe");
    let (from_read, from_write) = must(fs::pipe(), "pipe");
    let pid = must(
        Command::new(me)
            .arg("pipe-echo")
            .stdin(to_read.fd())
            .stdout(from_write.fd())
            .spawn(),
        "pipe-echo",
    );
    drop(to_read);
    drop(from_write);
    let ops = plan.ops(1000);
    let mut b = [0u8; 1];
    let ticks = plan.time(ops, || {
        must(to_write.write(b"x"), "pipe write");
        must(from_read.read(&mut b), "pipe read");
    });
    drop(to_write);
    let _ = process::wait(pid);
    plan.report("pipe_round_trip", &ticks, ops);
}

/// Maps 16 pages, writes to each, unmaps them: the cost per page.
fn mapping(plan: &Plan) {
    let len = MAP_PAGES * PAGE;
    let ops = plan.ops(100);
    let ticks = plan.time(ops, || {
        let addr = must(mem::mmap(len, PROT_READ | PROT_WRITE), "mmap");
        for page in 0..MAP_PAGES {
            // SAFETY: the range was just mapped readable and writable, and nothing else uses it.
            unsafe { ((addr as usize + page * PAGE) as *mut u8).write_volatile(1) };
        }
        // SAFETY: nothing refers to the mapping any more.
        must(unsafe { mem::munmap(addr, len) }, "munmap");
    });
    plan.report("map_page", &ticks, ops * MAP_PAGES as u64);
}

/// 64 KiB to `/dev/null` and to the console tty (1 KiB lines of dashes).
fn writes(plan: &Plan) {
    let mut big = vec![b'-'; BIG_WRITE];
    for chunk in big.chunks_mut(1024) {
        chunk[1023] = b'\n';
    }
    let null = must(File::open_with("/dev/null", O_WRONLY), "open /dev/null");
    let ops = plan.ops(100);
    let ticks = plan.time(ops, || must(null.write_all(&big), "write /dev/null"));
    plan.report("write_64k_null", &ticks, ops);
    let ops = plan.ops(3);
    let ticks = plan.time(ops, || must(io::write_all(io::STDOUT, &big), "write tty"));
    println!();
    plan.report("write_64k_tty", &ticks, ops);
}

/// Sequential 1 MiB reads and writes through `/dev/mmcblk0`, in 64 KiB calls. Every batch (the
/// warm-up too) uses a megabyte of the card no other batch touched, so a read comes from the card
/// and not the block cache; a write is followed by `sync`, so it has reached the card.
fn sdcard(plan: &Plan) {
    let dev = must(File::open_with(SD_DEVICE, O_RDWR), SD_DEVICE);
    let mut buf = vec![0u8; SD_CHUNK];
    let mut megabyte = 1u64;
    let ticks = plan.time(1, || {
        must(dev.seek(SeekFrom::Start(megabyte * SD_BYTES)), "seek");
        let mut done = 0;
        while done < SD_BYTES {
            match must(dev.read(&mut buf), "read /dev/mmcblk0") {
                0 => fail("read /dev/mmcblk0: end of device", keel_user::Error::EIO),
                n => done += n as u64,
            }
        }
        megabyte += 1;
    });
    plan.report("sd_read_1m", &ticks, 1);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
    let ticks = plan.time(1, || {
        must(dev.seek(SeekFrom::Start(megabyte * SD_BYTES)), "seek");
        for _ in 0..SD_BYTES / SD_CHUNK as u64 {
            must(dev.write_all(&buf), "write /dev/mmcblk0");
        }
        must(fs::sync(), "sync");
        megabyte += 1;
    });
    plan.report("sd_write_1m", &ticks, 1);
}

/// Loads and unloads `hello.ko` (after unloading the copy loaded at boot), timing each.
fn modules(plan: &Plan) {
    let image = must(fs::read(MODULE_PATH), MODULE_PATH);
    let _ = module::delete_module(MODULE, 0);
    let runs = plan.ops(20) + 1;
    let mut load = Vec::new();
    let mut unload = Vec::new();
    for i in 0..runs {
        let t0 = counter();
        must(module::init_module(&image, ""), "init_module");
        let t1 = counter();
        must(module::delete_module(MODULE, 0), "delete_module");
        let t2 = counter();
        // The first round is the warm-up.
        if i > 0 {
            load.push(t1 - t0);
            unload.push(t2 - t1);
        }
    }
    // Leave the system as the boot left it.
    let _ = module::init_module(&image, "");
    plan.report("insmod", &load, 1);
    plan.report("rmmod", &unload, 1);
}

/// The timer interrupt's latency while this program sleeps for 1 ms at a time with nothing
/// else to run (the kernel records each interrupt), and the longest one since boot with the
/// moment it was measured.
fn timer(plan: &Plan) {
    let before = must(kernel_stats(), "kstats");
    for _ in 0..plan.ops(30) {
        process::sleep_ms(1);
    }
    let after = must(kernel_stats(), "kstats");
    let samples = ring_samples(
        &after.timer_latency_recent,
        before.timer_irqs,
        after.timer_irqs,
    );
    plan.report("timer_irq_latency", &samples, 1);
    report(
        "timer_irq_latency_max",
        "ns",
        &Summary::single(plan.ns(after.timer_latency_max)),
    );
    report(
        "timer_irq_latency_max_at",
        "ns",
        &Summary::single(plan.ns(after.timer_latency_max_at)),
    );
}
