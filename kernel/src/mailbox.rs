//! The Raspberry Pi's VideoCore mailbox, property channel 8: the firmware's answers about clocks
//! (the `keel_firmware_clock_rate` export).
//!
//! One request at a time goes through a 16-byte aligned buffer in the kernel image: the kernel
//! writes the request, cleans the buffer's cache lines to memory (the VideoCore does not snoop
//! the ARM caches), writes the buffer's bus address with the channel to MBOX1_WRITE, waits for
//! the same word in MBOX0_READ, invalidates the lines and reads the answer. The bus address is
//! the physical one plus the board's `firmware_bus_base` (0xC000_0000 on the BCM2711: the
//! firmware sees the first GiB of RAM there, as the tree's `dma-ranges` say).
//!
//! Reference: the Raspberry Pi firmware's mailbox property interface wiki page (tags
//! GET_CLOCK_RATE 0x00030002, response code 0x80000000).

use keel_abi::Errno;
use keel_boot::layout::KERNEL_VA;

/// MBOX0_READ, MBOX0_STATUS, MBOX1_WRITE, MBOX1_STATUS offsets.
const READ: usize = 0x00;
const STATUS0: usize = 0x18;
const WRITE: usize = 0x20;
const STATUS1: usize = 0x38;
/// STATUS bits.
const FULL: u32 = 1 << 31;
const EMPTY: u32 = 1 << 30;
/// The property channel.
const CHANNEL: u32 = 8;
/// A request's code and the firmware's "ok".
const REQUEST: u32 = 0;
const RESPONSE_OK: u32 = 0x8000_0000;
/// The GET_CLOCK_RATE tag.
const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
/// How long the firmware may take to answer.
const TIMEOUT_NS: u64 = 100_000_000;

#[repr(C, align(64))]
struct Buffer([u32; 16]);

/// The request buffer (one cache-line group), behind the lock that serialises requests.
static BUFFER: spin::Mutex<Buffer> = spin::Mutex::new(Buffer([0; 16]));
/// The mailbox registers' virtual address and the firmware's bus base.
static MAILBOX: spin::Once<Option<(usize, u64)>> = spin::Once::new();

fn mailbox() -> Option<(usize, u64)> {
    *MAILBOX.call_once(|| {
        let bus_base = crate::board::current()?.firmware_bus_base?;
        let dev = crate::dt::find_compatible(&["brcm,bcm2835-mbox"])?;
        let &(pa, _) = dev.regs().first()?;
        let va = crate::mm::map_device(pa, 0x40).ok()?;
        Some((va, bus_base))
    })
}

fn reg(base: usize, offset: usize) -> *mut u32 {
    (base + offset) as *mut u32
}

/// Cleans and invalidates the data cache lines of `[addr, addr + len)` to the point of coherency.
fn clean_invalidate(addr: usize, len: usize) {
    let mut line = addr & !63;
    while line < addr + len {
        // SAFETY: cache maintenance by address on mapped kernel memory.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) line, options(nostack)) };
        line += 64;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb sy", options(nostack)) };
}

/// The rate in Hz of firmware clock `clock_id`. Errors: `ENODEV` (no mailbox on this board),
/// `EIO` (the firmware refused or did not answer in time).
pub fn clock_rate(clock_id: u32) -> Result<u32, Errno> {
    let (base, bus_base) = mailbox().ok_or(Errno::ENODEV)?;
    let mut buf = BUFFER.lock();
    buf.0 = [0; 16];
    buf.0[..8].copy_from_slice(&[32, REQUEST, TAG_GET_CLOCK_RATE, 8, 0, clock_id, 0, 0]);
    let va = buf.0.as_ptr() as usize;
    let (image_pa, _) = crate::mm::image_phys();
    let pa = va as u64 - KERNEL_VA + image_pa;
    let bus = u32::try_from(pa | bus_base).map_err(|_| Errno::EIO)?;
    clean_invalidate(va, core::mem::size_of::<Buffer>());
    let deadline = crate::time::uptime_nanos() + TIMEOUT_NS;
    // SAFETY: `base` maps the mailbox registers (device memory); requests are serialised by the
    // buffer's lock.
    unsafe {
        while reg(base, STATUS1).read_volatile() & FULL != 0 {
            if crate::time::uptime_nanos() > deadline {
                return Err(Errno::EIO);
            }
            core::hint::spin_loop();
        }
        reg(base, WRITE).write_volatile((bus & !0xf) | CHANNEL);
        loop {
            while reg(base, STATUS0).read_volatile() & EMPTY != 0 {
                if crate::time::uptime_nanos() > deadline {
                    return Err(Errno::EIO);
                }
                core::hint::spin_loop();
            }
            if reg(base, READ).read_volatile() == (bus & !0xf) | CHANNEL {
                break;
            }
        }
    }
    clean_invalidate(va, core::mem::size_of::<Buffer>());
    // SAFETY: the firmware wrote the buffer; read it from memory, not a stale register copy.
    let words: [u32; 8] =
        core::array::from_fn(|i| unsafe { buf.0.as_ptr().add(i).read_volatile() });
    if words[1] != RESPONSE_OK || words[4] & RESPONSE_OK == 0 || words[5] != clock_id {
        return Err(Errno::EIO);
    }
    Ok(words[6])
}
