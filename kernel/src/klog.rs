//! The kernel log: the `log` facade's backend.
//!
//! Every record becomes one line `[ssss.uuuuuu] LEVEL subsys: message` (time since reset from the
//! generic counter, like `dmesg`), written to the console and kept in a ring buffer that a later
//! `dmesg` reads. The subsystem is the record's target: the first module below the crate root
//! (`keel_kernel::mm::phys` logs as `mm`) unless the call names one.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_core::logring::LogRing;
use keel_core::time::Timestamp;
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::sync::IrqMutex;
use crate::{arch, console};

/// Bytes of log history kept for `dmesg`.
pub const RING_SIZE: usize = 64 * 1024;
/// Longest line kept; longer messages are cut.
const LINE_MAX: usize = 240;

static RING: IrqMutex<LogRing<RING_SIZE>> = IrqMutex::new(LogRing::new());
/// The core (MPIDR affinity) writing a line to the console under the ring's lock.
static HOLDER: AtomicU64 = AtomicU64::new(NO_HOLDER);
const NO_HOLDER: u64 = u64::MAX;
static LOGGER: KernelLogger = KernelLogger;

struct KernelLogger;

/// A fixed buffer the line is formatted into; output past its end is dropped.
struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = LINE_MAX - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The short subsystem name for a record target.
pub fn subsystem(target: &str) -> &str {
    // `::` found as bytes: a string search costs more to set up than a short target to scan.
    let separator = |text: &str| text.as_bytes().windows(2).position(|pair| pair == b"::");
    let Some(at) = separator(target) else {
        return target;
    };
    let rest = target.get(at + 2..).unwrap_or("");
    match separator(rest) {
        Some(end) => rest.get(..end).unwrap_or(rest),
        None => rest,
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN ",
        Level::Info => "INFO ",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

impl Log for KernelLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = LineBuf {
            buf: [0; LINE_MAX],
            len: 0,
        };
        let stamp = Timestamp::from_ticks(arch::counter(), arch::counter_frequency());
        // `[{stamp}] {level} {subsystem}: {args}`, the fixed parts written as they are rather
        // than through the formatting machinery.
        let mut stamp_text = [0; Timestamp::TEXT_MAX];
        for part in [
            "[",
            stamp.text(&mut stamp_text),
            "] ",
            level_name(record.level()),
            " ",
            subsystem(record.target()),
            ": ",
        ] {
            let _ = line.write_str(part);
        }
        let _ = match record.args().as_str() {
            Some(text) => line.write_str(text),
            None => line.write_fmt(*record.args()),
        };
        // The console gets the line and its newline in one write, so that another writer's
        // bytes (a program's output) cannot land between them; the ring keeps the text alone.
        let len = line.len.min(LINE_MAX - 1);
        line.buf[len] = b'\n';
        let (text, console_line) = (&line.buf[..len], &line.buf[..len + 1]);
        let me = arch::mpidr();
        if HOLDER.load(Ordering::Acquire) == me {
            // This core is inside the console write of an earlier line: the console driver
            // faulted or panicked there. Its report goes out the built-in polled way (the ring
            // is locked by the interrupted line).
            console::write_bytes_emergency(console_line);
            return;
        }
        // One lock around both keeps the ring and the console in the same order.
        let mut ring = RING.lock();
        HOLDER.store(me, Ordering::Release);
        ring.push(text);
        console::write_bytes(console_line);
        HOLDER.store(NO_HOLDER, Ordering::Release);
    }

    fn flush(&self) {
        console::flush();
    }
}

/// Installs the kernel logger. Lines logged before a console exists still reach the ring buffer.
pub fn init(level: LevelFilter) {
    // A second call is harmless: the logger is already installed.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Copies log lines starting at sequence number `from` into `out` (see [`LogRing::read`]).
pub fn read(from: u64, out: &mut [u8]) -> keel_core::logring::ReadResult {
    RING.lock().read(from, out)
}
