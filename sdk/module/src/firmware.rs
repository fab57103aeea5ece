//! The board's firmware, through the kernel: on the Raspberry Pi the VideoCore mailbox's property
//! channel (the kernel owns the mailbox; modules ask it).
//!
//! ```ignore
//! let hz = keel_module::firmware::clock_rate(keel_module::firmware::CLOCK_UART)?; // 48 MHz on a Pi 4
//! ```

use crate::{rt, sys, Error, Result};

/// The firmware's id of the EMMC clock.
pub const CLOCK_EMMC: u32 = 1;
/// The firmware's id of the PL011 UART clock.
pub const CLOCK_UART: u32 = 2;
/// The firmware's id of the EMMC2 (SD card) clock.
pub const CLOCK_EMMC2: u32 = 12;

/// The rate in Hz of firmware clock `clock_id` (`keel_firmware_clock_rate`).
///
/// Errors: [`Error::NoDevice`] (the board has no firmware mailbox), [`Error::Io`] (the firmware
/// refused or did not answer).
pub fn clock_rate(clock_id: u32) -> Result<u32> {
    let mut hz = 0u32;
    // SAFETY: `hz` is valid for writes during the call.
    Error::check(unsafe { sys::keel_firmware_clock_rate(rt::handle(), clock_id, &mut hz) })?;
    Ok(hz)
}
