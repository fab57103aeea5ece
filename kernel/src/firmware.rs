//! The VideoCore firmware's property interface (the BCM2711 mailbox, channel 8): clock rates,
//! power and the expander GPIOs the Pi 4's SD slot needs.
//!
//! A request is a 16-byte-aligned buffer in the first GiB: `[size, 0, tag, value bytes, 0,
//! values..., 0 (end tag)]`; its bus address (the physical address plus the board table's
//! `firmware_bus_base`, 0xC000_0000 on the BCM2711, where the firmware sees the first GiB of RAM
//! as the tree's `dma-ranges` say) goes to MBOX1_WRITE with the channel in the low four bits, and the firmware answers on MBOX0_READ with the same word after
//! writing its reply into the buffer (code 0x80000000 and each tag's response length with bit 31
//! set). The buffer is cleaned to memory before and invalidated after, as the firmware reads and
//! writes memory behind the caches.

use keel_abi::Errno;

const MBOX_COMPATIBLE: &[&str] = &["brcm,bcm2835-mbox"];
const MBOX0_READ: usize = 0x00;
const MBOX0_STATUS: usize = 0x18;
const MBOX1_WRITE: usize = 0x20;
const MBOX1_STATUS: usize = 0x38;
const STATUS_EMPTY: u32 = 1 << 30;
const STATUS_FULL: u32 = 1 << 31;
const CHANNEL_PROPERTY: u32 = 8;
const RESPONSE_OK: u32 = 0x8000_0000;
/// The GET_CLOCK_RATE tag.
const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
/// Most value words of one tag.
pub const MAX_VALUES: usize = 64;
/// How long the firmware may take, in nanoseconds.
const TIMEOUT_NS: u64 = 100_000_000;

/// The mailbox registers (virtual), the request page (physical) and the firmware's view of it.
struct Mailbox {
    regs: usize,
    page: u64,
    bus_base: u64,
}

/// Not taken in interrupt context: requests are made by drivers' `init`.
static MAILBOX: spin::Mutex<Option<Mailbox>> = spin::Mutex::new(None);

fn open() -> Result<Mailbox, Errno> {
    let bus_base = crate::board::current()
        .and_then(|b| b.firmware_bus_base)
        .ok_or(Errno::ENODEV)?;
    let dev = crate::dt::find_compatible(MBOX_COMPATIBLE).ok_or(Errno::ENODEV)?;
    let &(pa, _) = dev.regs().first().ok_or(Errno::ENODEV)?;
    let regs = crate::mm::map_device(pa, 0x40).map_err(|_| Errno::ENOMEM)?;
    let page = crate::mm::phys::alloc_pages(1).ok_or(Errno::ENOMEM)?;
    if page >= 1 << 30 {
        crate::mm::phys::free_pages(page, 1);
        return Err(Errno::ENOMEM);
    }
    Ok(Mailbox {
        regs,
        page,
        bus_base,
    })
}

/// Runs one property `tag` with `values` (request in, response out; its length is the tag's
/// value buffer). Returns the response's length in bytes. `ENODEV` without a mailbox, `EIO` when
/// the firmware refuses, `ETIMEDOUT`.
pub fn property(tag: u32, values: &mut [u32]) -> Result<usize, Errno> {
    if values.len() > MAX_VALUES {
        return Err(Errno::EINVAL);
    }
    let mut guard = MAILBOX.lock();
    if guard.is_none() {
        *guard = Some(open()?);
    }
    let Some(mb) = guard.as_ref() else {
        return Err(Errno::ENODEV);
    };
    let va = crate::mm::phys_to_virt(mb.page) as *mut u32;
    let words = 6 + values.len();
    let reg = |off: usize| (mb.regs + off) as *mut u32;
    // SAFETY: `va` is the direct-map address of the page this module owns (4096 bytes, more than
    // `words` words); the mailbox registers were mapped as device memory in `open`.
    unsafe {
        va.write_volatile((words * 4) as u32);
        va.add(1).write_volatile(0);
        va.add(2).write_volatile(tag);
        va.add(3).write_volatile((values.len() * 4) as u32);
        va.add(4).write_volatile(0);
        for (i, v) in values.iter().enumerate() {
            va.add(5 + i).write_volatile(*v);
        }
        va.add(5 + values.len()).write_volatile(0);
        crate::smp::clean_to_poc(va as u64, (words * 4) as u64);
        let start = crate::time::uptime_nanos();
        while reg(MBOX1_STATUS).read_volatile() & STATUS_FULL != 0 {
            if crate::time::uptime_nanos() - start > TIMEOUT_NS {
                return Err(Errno::ETIMEDOUT);
            }
        }
        let message = ((mb.page | mb.bus_base) as u32) & !0xf | CHANNEL_PROPERTY;
        reg(MBOX1_WRITE).write_volatile(message);
        loop {
            if crate::time::uptime_nanos() - start > TIMEOUT_NS {
                return Err(Errno::ETIMEDOUT);
            }
            if reg(MBOX0_STATUS).read_volatile() & STATUS_EMPTY != 0 {
                continue;
            }
            if reg(MBOX0_READ).read_volatile() == message {
                break;
            }
        }
        crate::smp::clean_to_poc(va as u64, (words * 4) as u64);
        if va.add(1).read_volatile() != RESPONSE_OK {
            return Err(Errno::EIO);
        }
        let length = va.add(4).read_volatile();
        if length & 0x8000_0000 == 0 {
            return Err(Errno::EIO);
        }
        for (i, v) in values.iter_mut().enumerate() {
            *v = va.add(5 + i).read_volatile();
        }
        Ok((length & 0x7fff_ffff) as usize)
    }
}

/// The rate in Hz of firmware clock `clock_id` (1 EMMC, 2 UART, 12 EMMC2). `ENODEV` without a
/// mailbox, `EIO` when the firmware refuses or answers for another clock or with 0 Hz.
pub fn clock_rate(clock_id: u32) -> Result<u32, Errno> {
    let mut values = [clock_id, 0];
    property(TAG_GET_CLOCK_RATE, &mut values)?;
    if values[0] != clock_id || values[1] == 0 {
        return Err(Errno::EIO);
    }
    Ok(values[1])
}
