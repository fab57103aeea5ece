//! `sysfuzz`'s call generator.
//!
//! Arguments mix small integers, pointers into the fuzzer's own buffer (some misaligned), huge
//! lengths, kernel and non-canonical addresses and null. The rules ([`check`]) keep the fuzzer
//! alive and the system usable:
//!
//! - never `EXIT`, `POWER`, a real `SPAWN` (only a prepared `SpawnArgs` naming a path that does
//!   not exist, or bad pointers), `KILL` of a real process (pids are ≥ 2³⁰);
//! - never a call that could block for ever: `WAIT` always has `WNOHANG`, no `RECV`,
//!   `REPLY_RECV`, `CALL` (an endpoint of its own would never answer), `NOTIFY_WAIT`; `SLEEP` is
//!   at most 1 ms; no descriptor 0, 1 or 2 is read, written, closed, duplicated, replaced or
//!   given an ioctl (descriptor numbers are checked on their low 32 bits, in case the kernel
//!   truncates);
//! - the kernel may write only inside the buffer: a pointer into the buffer given to a call that
//!   writes bytes comes with a length inside the buffer or one beyond the user address space
//!   (≥ 2⁴⁸, which must be refused before anything is copied); counts of entries are small or
//!   huge (only existing entries are written, and the buffer has slack for them);
//! - `MUNMAP` only touches bad addresses (with small lengths) or regions the fuzzer mapped;
//! - `UNLINK`, `MKDIR`, `CHDIR` only get the fuzzer's own path names or bad pointers;
//!   `KLOG_WRITE` only bad pointers (nothing is logged);
//! - of the GPIO ioctls (on `/dev/gpiochip0`, among the paths), only those that read or claim
//!   lines ([`GPIO_REQUESTS`]);
//! - a call number that is not a real call stays invalid even when truncated to 32 bits.

use crate::rng::Rng;
use alloc::vec::Vec;
use keel_abi::syscall as sc;

/// Bytes at the start of the buffer that calls may read and write at random.
pub const RANDOM_LEN: u64 = 32 * 1024;
/// Total buffer size: the random region, slack for entry lists, then the prepared data.
pub const BUF_LEN: u64 = 64 * 1024;
/// Offset of the path names in the buffer.
pub const PATHS_OFF: u64 = 48 * 1024;
/// Offset of the prepared `SpawnArgs`.
pub const SPAWN_OFF: u64 = 56 * 1024;
/// Lengths beyond the user address space.
pub const HUGE: u64 = 1 << 48;

/// Path names laid out at [`PATHS_OFF`] (each followed by a NUL for readability).
pub const PATHS: &[&str] = &[
    "/",
    "/tmp/sysfuzz.a",
    "/tmp/sysfuzz.b",
    "/tmp/sysfuzz.dir",
    "/tmp/sysfuzz.dir/x",
    "/dev/null",
    "/dev/zero",
    "/etc/inittab",
    "/nonexistent/sysfuzz",
    "",
    "/dev/gpiochip0",
];

/// The GPIO ioctls the fuzzer issues (with random arguments) besides random request numbers:
/// those that only read or claim lines. Changing a line's function or bias could take the
/// console's pins, and `GPIO_WAIT_EVENT` could block for ever.
pub const GPIO_REQUESTS: &[u64] = &[
    keel_abi::device::GPIO_GET_CHIPINFO,
    keel_abi::device::GPIO_REQUEST_LINE,
    keel_abi::device::GPIO_RELEASE_LINE,
    keel_abi::device::GPIO_GET_VALUE,
];

/// The index in [`PATHS`] of the path that does not exist (the prepared `SpawnArgs` name it).
pub const NONEXISTENT: usize = 8;

/// Paths that `UNLINK`, `MKDIR` and `CHDIR` may get (indices into [`PATHS`]).
const SAFE_PATHS: &[usize] = &[0, 1, 2, 3, 4, 7, 8, 9];

/// The real calls the fuzzer may issue.
pub const CALLS: &[u64] = &[
    sc::WAIT,
    sc::GETPID,
    sc::GETPPID,
    sc::KILL,
    sc::YIELD,
    sc::SLEEP,
    sc::PROCLIST,
    sc::MMAP,
    sc::MUNMAP,
    sc::MEMINFO,
    sc::OPEN,
    sc::CLOSE,
    sc::READ,
    sc::WRITE,
    sc::SEEK,
    sc::IOCTL,
    sc::STAT,
    sc::FSTAT,
    sc::READDIR,
    sc::DUP2,
    sc::PIPE,
    sc::MKDIR,
    sc::UNLINK,
    sc::SYNC,
    sc::CHDIR,
    sc::GETCWD,
    sc::TRUNCATE,
    sc::ENDPOINT_CREATE,
    sc::REPLY,
    sc::NOTIFY_CREATE,
    sc::NOTIFY_SIGNAL,
    sc::HANDLE_CLOSE,
    sc::HANDLE_DUP,
    sc::CLOCK,
    sc::KLOG_READ,
    sc::KLOG_WRITE,
    sc::INIT_MODULE,
    sc::DELETE_MODULE,
    sc::MODULE_LIST,
    sc::SPAWN,
];

/// Numbers that are no call.
const INVALID: &[u64] = &[
    9, 13, 19, 37, 39, 51, 59, 62, 69, 71, 79, 83, 99, 127, 255, 1000, 4095,
];

/// Where the fuzzer's memory is.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Address of the buffer ([`BUF_LEN`] bytes).
    pub buf: u64,
    /// An address of read-only memory of the program (its code).
    pub ro: u64,
    /// The fuzzer's pid.
    pub pid: u64,
    /// Its parent's pid.
    pub ppid: u64,
    /// Regions the fuzzer mapped with `MMAP` and may unmap.
    pub mapped: Vec<(u64, u64)>,
}

impl Ctx {
    fn in_buf(&self, p: u64) -> bool {
        p >= self.buf && p < self.buf + BUF_LEN
    }

    fn path(&self, i: usize) -> (u64, u64) {
        let mut off = self.buf + PATHS_OFF;
        for p in &PATHS[..i] {
            off += p.len() as u64 + 1;
        }
        (off, PATHS[i].len() as u64)
    }
}

/// One system call to issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// The number (`x8`).
    pub nr: u64,
    /// `x0`..`x7` (`x6`, `x7` only matter for IPC calls).
    pub args: [u64; 8],
}

fn bad_addr(rng: &mut Rng) -> u64 {
    match rng.below(5) {
        0 => 0,
        1 => 0xffff_0000_0000_0000 | (rng.next_u64() & 0xffff_fff8),
        2 => 0xffff_ffff_ffff_f000,
        3 => 0x0001_0000_0000_0000 | (rng.next_u64() & 0xffff_ffff_ffff),
        _ => rng.below(0x1_0000),
    }
}

/// A pointer into the random region (sometimes misaligned).
fn buf_ptr(rng: &mut Rng, ctx: &Ctx) -> u64 {
    let p = ctx.buf + rng.below(RANDOM_LEN);
    if rng.chance(50) {
        p & !7
    } else {
        p
    }
}

fn any(rng: &mut Rng, ctx: &Ctx) -> u64 {
    match rng.below(10) {
        0 => rng.below(16),
        1 => rng.below(4096),
        2 => rng.next_u64(),
        3 => (-(rng.below(16) as i64 + 1)) as u64,
        4 | 5 => buf_ptr(rng, ctx),
        6 => ctx.ro,
        7 => HUGE + rng.below(HUGE),
        _ => bad_addr(rng),
    }
}

/// A length for bytes the kernel writes at `ptr`.
fn out_len(rng: &mut Rng, ctx: &Ctx, ptr: u64) -> u64 {
    if !ctx.in_buf(ptr) {
        return any(rng, ctx);
    }
    match rng.below(4) {
        0 => rng.below(64),
        1 => rng.below(RANDOM_LEN - (ptr - ctx.buf).min(RANDOM_LEN) + 1),
        2 => HUGE + rng.below(HUGE),
        _ => u64::MAX - rng.below(16),
    }
}

/// A count of entries the kernel writes at `ptr`.
fn out_count(rng: &mut Rng, ctx: &Ctx, ptr: u64) -> u64 {
    if !ctx.in_buf(ptr) {
        return any(rng, ctx);
    }
    if rng.chance(70) {
        rng.below(64)
    } else {
        (1 << 40) + rng.below(1 << 40)
    }
}

/// A descriptor that is not 0, 1 or 2 (even truncated to 32 bits).
fn fd(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => 3 + rng.below(29),
        1 => (rng.next_u64() | 0x8000_0000) & 0xffff_ffff,
        2 => (-(rng.below(16) as i64 + 1)) as u64,
        _ => 3 + rng.below(8),
    }
}

fn safe_path(rng: &mut Rng, ctx: &Ctx) -> (u64, u64) {
    if rng.chance(20) {
        (bad_addr(rng), rng.below(64))
    } else {
        ctx.path(rng.pick(SAFE_PATHS))
    }
}

/// A path: any of the prepared ones, random bytes, or a bad pointer.
fn path(rng: &mut Rng, ctx: &Ctx) -> (u64, u64) {
    match rng.below(4) {
        0 | 1 => ctx.path(rng.below(PATHS.len() as u64) as usize),
        2 => (buf_ptr(rng, ctx), rng.below(80)),
        _ => (any(rng, ctx), any(rng, ctx)),
    }
}

/// Generates one call that passes [`check`].
pub fn generate(rng: &mut Rng, ctx: &Ctx) -> Call {
    loop {
        let mut c = Call {
            nr: 0,
            args: [0; 8],
        };
        for a in c.args.iter_mut() {
            *a = any(rng, ctx);
        }
        c.nr = if rng.chance(90) {
            rng.pick(CALLS)
        } else {
            // High bits random, low 32 bits no call.
            ((rng.next_u64() & 0xffff_ffff_0000_0000) * rng.below(2)) | rng.pick(INVALID)
        };
        fix(rng, ctx, &mut c);
        if check(&c, ctx).is_ok() {
            return c;
        }
    }
}

/// Adjusts the arguments of `c` to the rules of its call.
fn fix(rng: &mut Rng, ctx: &Ctx, c: &mut Call) {
    let a = &mut c.args;
    match c.nr {
        sc::SPAWN => {
            a[0] = if rng.chance(60) {
                ctx.buf + SPAWN_OFF
            } else {
                bad_addr(rng)
            }
        }
        sc::WAIT => {
            a[0] = if rng.chance(50) {
                u64::MAX
            } else {
                any(rng, ctx)
            };
            a[2] |= sc::WNOHANG;
        }
        sc::KILL => a[0] = 0x4000_0000 + rng.below(0x1000_0000),
        sc::SLEEP => a[0] = rng.below(1_000_000),
        sc::PROCLIST | sc::MODULE_LIST => a[1] = out_count(rng, ctx, a[0]),
        sc::READDIR => {
            a[0] = fd(rng);
            a[2] = out_count(rng, ctx, a[1]);
        }
        sc::MUNMAP => {
            if !ctx.mapped.is_empty() && rng.chance(50) {
                let (addr, len) = rng.pick(&ctx.mapped);
                a[0] = addr;
                a[1] = if rng.chance(70) {
                    len
                } else {
                    rng.below(len + 1)
                };
            } else {
                a[0] = bad_addr(rng);
                a[1] = rng.pick(&[0, 1, 4096, 4097, 1 << 20]);
            }
        }
        sc::MMAP => {
            a[0] = match rng.below(3) {
                0 => rng.below(1 << 20),
                1 => rng.below(16) << 12,
                _ => any(rng, ctx),
            };
            a[1] = rng.below(8);
        }
        sc::CLOSE | sc::SEEK | sc::FSTAT | sc::TRUNCATE => a[0] = fd(rng),
        sc::IOCTL => {
            a[0] = fd(rng);
            if rng.chance(50) {
                a[1] = rng.pick(GPIO_REQUESTS);
            }
        }
        sc::READ => {
            a[0] = fd(rng);
            a[2] = out_len(rng, ctx, a[1]);
        }
        sc::WRITE => a[0] = fd(rng),
        sc::DUP2 => {
            a[0] = fd(rng);
            a[1] = fd(rng);
        }
        sc::GETCWD => a[1] = out_len(rng, ctx, a[0]),
        sc::KLOG_READ => a[2] = out_len(rng, ctx, a[1]),
        sc::OPEN | sc::STAT => {
            let (p, l) = path(rng, ctx);
            a[0] = p;
            a[1] = l;
            if c.nr == sc::OPEN {
                a[2] = rng.next_u64() & 0x1_0ffb;
            }
        }
        sc::MKDIR | sc::UNLINK | sc::CHDIR => {
            let (p, l) = safe_path(rng, ctx);
            a[0] = p;
            a[1] = l;
        }
        sc::KLOG_WRITE => a[0] = bad_addr(rng) | 0xffff_0000_0000_0000,
        sc::INIT_MODULE if ctx.in_buf(a[0]) => a[1] = rng.below(RANDOM_LEN),
        _ => {}
    }
}

fn low32(v: u64) -> u64 {
    v & 0xffff_ffff
}

fn console_fd(v: u64) -> bool {
    low32(v) <= 2
}

/// Why a call must not be issued, if it must not.
pub fn check(c: &Call, ctx: &Ctx) -> Result<(), &'static str> {
    let a = &c.args;
    let writes_in_buf =
        |ptr: u64, len: u64| !ctx.in_buf(ptr) || len >= HUGE || ptr + len <= ctx.buf + RANDOM_LEN;
    let counts_in_buf = |ptr: u64, n: u64| !ctx.in_buf(ptr) || !(64..1 << 40).contains(&n);
    let nr32 = low32(c.nr);
    if nr32 != c.nr
        && CALLS
            .iter()
            .chain(&[sc::EXIT, sc::POWER, sc::RECV, sc::CALL])
            .any(|&n| n == nr32)
    {
        return Err("call number that truncates to a real call");
    }
    match c.nr {
        sc::EXIT => Err("EXIT"),
        sc::POWER => Err("POWER"),
        sc::RECV | sc::REPLY_RECV | sc::CALL | sc::NOTIFY_WAIT => Err("blocking IPC"),
        sc::SPAWN if a[0] != ctx.buf + SPAWN_OFF && ctx.in_buf(a[0]) => Err("SPAWN of random data"),
        sc::SPAWN if !ctx.in_buf(a[0]) && a[0] >= 0x1_0000 && a[0] < 0x0001_0000_0000_0000 => {
            Err("SPAWN of a user pointer outside the buffer")
        }
        sc::WAIT if a[2] & sc::WNOHANG == 0 => Err("WAIT without WNOHANG"),
        sc::KILL if low32(a[0]) < 0x4000_0000 || a[0] >> 32 != 0 => Err("KILL of a real pid"),
        sc::KILL if a[0] == ctx.pid || a[0] == ctx.ppid || a[0] == 1 => Err("KILL of self"),
        sc::SLEEP if a[0] > 1_000_000 => Err("long SLEEP"),
        sc::IOCTL if a[1] & 0xffff_ff00 == 0x4700 && !GPIO_REQUESTS.contains(&a[1]) => {
            Err("GPIO ioctl that changes a line or waits")
        }
        sc::READ | sc::WRITE | sc::CLOSE | sc::IOCTL | sc::READDIR if console_fd(a[0]) => {
            Err("console descriptor")
        }
        sc::DUP2 if console_fd(a[0]) || console_fd(a[1]) => Err("console descriptor"),
        sc::READ | sc::KLOG_READ if !writes_in_buf(a[1], a[2]) => Err("write past the buffer"),
        sc::GETCWD if !writes_in_buf(a[0], a[1]) => Err("write past the buffer"),
        sc::PROCLIST | sc::MODULE_LIST if !counts_in_buf(a[0], a[1]) => {
            Err("entries past the buffer")
        }
        sc::READDIR if !counts_in_buf(a[1], a[2]) => Err("entries past the buffer"),
        sc::MUNMAP => {
            let own = ctx.mapped.iter().any(|&(m, l)| a[0] == m && a[1] <= l);
            let bad = a[0] < 0x1_0000 && a[1] <= 1 << 20 || a[0] >= 0x0001_0000_0000_0000;
            if own || bad {
                Ok(())
            } else {
                Err("MUNMAP of the fuzzer's own memory")
            }
        }
        sc::MKDIR | sc::UNLINK | sc::CHDIR => {
            let ok = SAFE_PATHS.iter().any(|&i| ctx.path(i) == (a[0], a[1]))
                || !ctx.in_buf(a[0]) && a[0] != ctx.ro;
            if ok {
                Ok(())
            } else {
                Err("path not the fuzzer's own")
            }
        }
        sc::KLOG_WRITE if a[0] < 0x0001_0000_0000_0000 => Err("KLOG_WRITE of real bytes"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ctx() -> Ctx {
        Ctx {
            buf: 0x50_0000,
            ro: 0x40_1000,
            pid: 7,
            ppid: 3,
            mapped: vec![(0x100_0000, 0x4000)],
        }
    }

    #[test]
    fn generated_calls_keep_the_rules_and_cover_the_calls() {
        let ctx = ctx();
        let mut rng = Rng::new(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200_000 {
            let c = generate(&mut rng, &ctx);
            assert_eq!(check(&c, &ctx), Ok(()), "{c:x?}");
            assert!(c.nr != sc::EXIT && c.nr != sc::POWER);
            seen.insert(c.nr);
        }
        for nr in CALLS {
            assert!(
                seen.contains(nr),
                "never generated {}",
                sc::name(*nr).unwrap()
            );
        }
        assert!(
            seen.iter().any(|n| !CALLS.contains(n)),
            "no invalid numbers"
        );
    }

    #[test]
    fn the_spawn_path_does_not_exist() {
        assert_eq!(PATHS[NONEXISTENT], "/nonexistent/sysfuzz");
    }

    #[test]
    fn rules_refuse_dangerous_calls() {
        let ctx = ctx();
        let call = |nr, a0, a1, a2| Call {
            nr,
            args: [a0, a1, a2, 0, 0, 0, 0, 0],
        };
        assert!(check(&call(sc::EXIT, 0, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::POWER, 0, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::KILL, 1, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::KILL, 0x1_0000_0001, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::WAIT, u64::MAX, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::READ, 0, ctx.buf, 10), &ctx).is_err());
        assert!(check(&call(sc::READ, 0x1_0000_0000, ctx.buf, 10), &ctx).is_err());
        assert!(check(&call(sc::READ, 5, ctx.buf, 1 << 20), &ctx).is_err());
        assert!(check(&call(sc::READ, 5, ctx.buf, 100), &ctx).is_ok());
        assert!(check(&call(sc::DUP2, 5, 1, 0), &ctx).is_err());
        assert!(check(&call(sc::MUNMAP, ctx.buf, 4096, 0), &ctx).is_err());
        assert!(check(&call(sc::MUNMAP, 0, 1 << 48, 0), &ctx).is_err());
        assert!(check(&call(sc::MUNMAP, 0x100_0000, 0x4000, 0), &ctx).is_ok());
        assert!(check(&call(sc::SLEEP, u64::MAX, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::SPAWN, ctx.buf + 8, 0, 0), &ctx).is_err());
        assert!(check(&call(sc::UNLINK, ctx.buf + 100, 4, 0), &ctx).is_err());
        assert!(check(&call(sc::CALL, 0, 0, 0), &ctx).is_err());
        assert!(check(&call(1 << 32, 0, 0, 0), &ctx).is_err());
        let wait = keel_abi::device::GPIO_WAIT_EVENT;
        assert!(check(&call(sc::IOCTL, 5, wait, ctx.buf), &ctx).is_err());
        let get = keel_abi::device::GPIO_GET_VALUE;
        assert!(check(&call(sc::IOCTL, 5, get, ctx.buf), &ctx).is_ok());
    }
}
