//! `sysfuzz [-v] [COUNT] [SEED]`: issues COUNT (default 20000) random system calls with random
//! arguments, within the rules of `testprogs::fuzz` (no exit, no power, no real spawn or kill,
//! nothing that blocks for ever, no damage to its own memory or descriptors 0-2), then prints
//! `sysfuzz: N calls, M errors, ok` and exits 0. `-v` prints every call before issuing it.
//! The seed defaults to the monotonic clock; it is printed first, to replay a run.
#![no_std]
#![no_main]

extern crate alloc;

use keel_abi::syscall as sc;
use keel_abi::types::{SpawnArgs, UserSlice};
use keel_user::raw::{self, IpcRegs};
use keel_user::{eprintln, println, process, time};
use testprogs::fuzz::{self, Call, Ctx, BUF_LEN, PATHS, PATHS_OFF, RANDOM_LEN, SPAWN_OFF};
use testprogs::rng::Rng;

keel_user::main!(main);

#[repr(C, align(4096))]
struct Buf([u8; BUF_LEN as usize]);

/// The memory the fuzzed calls may point at.
static mut BUF: Buf = Buf([0; BUF_LEN as usize]);

/// Most regions mapped by fuzzed `MMAP`s kept at once.
const MAX_MAPPED: usize = 8;
/// Descriptors and handles at or above this are closed at once, so the tables never fill.
const KEEP_BELOW: u64 = 48;

fn main(args: keel_user::Args) -> i32 {
    let mut verbose = false;
    let mut nums = [None, None];
    let mut k = 0;
    for a in args.skip(1) {
        if a == "-v" {
            verbose = true;
        } else if k < 2 {
            match a.parse::<u64>() {
                Ok(v) => nums[k] = Some(v),
                Err(_) => {
                    eprintln!("usage: sysfuzz [-v] [COUNT] [SEED]");
                    return 2;
                }
            }
            k += 1;
        }
    }
    let count = nums[0].unwrap_or(20_000);
    let seed = nums[1].unwrap_or_else(time::monotonic_ns);
    println!("sysfuzz: {count} calls, seed {seed}");

    let buf = core::ptr::addr_of_mut!(BUF) as *mut u8;
    let mut rng = Rng::new(seed);
    let mut ctx = Ctx {
        buf: buf as u64,
        ro: main as *const () as usize as u64,
        pid: process::getpid() as u64,
        ppid: process::getppid() as u64,
        mapped: alloc::vec::Vec::new(),
    };
    // SAFETY: BUF is only used through `buf` by this single-threaded program, and every write
    // stays inside its BUF_LEN bytes.
    unsafe { prepare(buf, &ctx, &mut rng) };

    let mut errors = 0u64;
    for i in 0..count {
        let call = fuzz::generate(&mut rng, &ctx);
        if verbose {
            println!(
                "sysfuzz: #{i} {}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
                sc::name(call.nr).unwrap_or("?"),
                call.args[0],
                call.args[1],
                call.args[2],
                call.args[3],
                call.args[4],
                call.args[5]
            );
        }
        let ret = issue(&call);
        if ret < 0 {
            errors += 1;
        } else {
            after(&call, ret as u64, &mut ctx);
        }
        if (i + 1) % 5000 == 0 && i + 1 < count {
            println!("sysfuzz: {} calls", i + 1);
        }
    }
    // Tidy up what the calls may have created.
    let _ = keel_user::fs::chdir("/");
    for p in [
        "/tmp/sysfuzz.dir/x",
        "/tmp/sysfuzz.dir",
        "/tmp/sysfuzz.a",
        "/tmp/sysfuzz.b",
    ] {
        let _ = keel_user::fs::unlink(p);
    }
    println!("sysfuzz: {count} calls, {errors} errors, ok");
    0
}

/// Fills the random region, lays out the path names and the spawn arguments.
///
/// # Safety
/// `buf` must point to BUF_LEN writable bytes used by nothing else.
unsafe fn prepare(buf: *mut u8, ctx: &Ctx, rng: &mut Rng) {
    // SAFETY: all offsets below stay inside BUF_LEN (the paths and SpawnArgs fit before the end).
    unsafe {
        for i in 0..RANDOM_LEN as usize {
            *buf.add(i) = rng.next_u64() as u8;
        }
        let mut off = PATHS_OFF as usize;
        for p in PATHS {
            core::ptr::copy_nonoverlapping(p.as_ptr(), buf.add(off), p.len());
            *buf.add(off + p.len()) = 0;
            off += p.len() + 1;
        }
        let nonexistent = fuzz::NONEXISTENT;
        let mut path_off = ctx.buf + PATHS_OFF;
        for p in &PATHS[..nonexistent] {
            path_off += p.len() as u64 + 1;
        }
        let args = SpawnArgs {
            path: UserSlice {
                ptr: path_off,
                len: PATHS[nonexistent].len() as u64,
            },
            argv: 0,
            argc: 0,
            envp: 0,
            envc: 0,
            fds: [-1; 3],
            reserved: 0,
            caps: 0,
            handles: 0,
            handle_count: 0,
        };
        core::ptr::write_unaligned(buf.add(SPAWN_OFF as usize) as *mut SpawnArgs, args);
    }
}

fn issue(c: &Call) -> i64 {
    let a = c.args;
    if c.nr == sc::REPLY {
        let mut regs = IpcRegs { x: a };
        // SAFETY: the generator's rules (`fuzz::check`) keep every pointer the kernel could
        // write through inside BUF or outside the program's memory.
        unsafe { raw::ipc(c.nr, &mut regs) };
        return regs.x[0] as i64;
    }
    // SAFETY: as above.
    unsafe { raw::syscall6(c.nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

/// Bookkeeping after a successful call.
fn after(c: &Call, ret: u64, ctx: &mut Ctx) {
    let a = c.args;
    match c.nr {
        // Close both ends at once: a pipe could block a later read or write.
        sc::PIPE if a[0] >= ctx.buf && a[0] + 8 <= ctx.buf + BUF_LEN => {
            // SAFETY: the kernel wrote two i32 at a[0], inside BUF.
            let fds = unsafe { core::ptr::read_unaligned(a[0] as *const [i32; 2]) };
            for fd in fds {
                if fd > 2 {
                    let _ = keel_user::fs::close(fd);
                }
            }
        }
        sc::MMAP => {
            let len = a[0].saturating_add(4095) & !4095;
            ctx.mapped.push((ret, len));
            if ctx.mapped.len() > MAX_MAPPED {
                let (addr, len) = ctx.mapped.remove(0);
                // SAFETY: the region came from a fuzzed MMAP and nothing of ours uses it.
                let _ = unsafe { keel_user::mem::munmap(addr, len as usize) };
            }
        }
        sc::MUNMAP => ctx.mapped.retain(|&(addr, _)| addr != a[0]),
        sc::OPEN | sc::DUP2 if ret >= KEEP_BELOW => {
            let _ = keel_user::fs::close(ret as i32);
        }
        sc::ENDPOINT_CREATE | sc::NOTIFY_CREATE | sc::HANDLE_DUP if ret >= KEEP_BELOW => {
            let _ = keel_user::ipc::handle_close(ret as u32);
        }
        _ => {}
    }
}
