//! The board's firmware, through the kernel: on the Raspberry Pi the VideoCore mailbox's property
//! channel (the kernel owns the mailbox; modules ask it): clock rates, power, the expander GPIOs.
//! Not for interrupt handlers.
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

/// GET_CLOCK_RATE.
pub const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
/// SET_GPIO_STATE (expander GPIOs are numbered from 128).
pub const TAG_SET_GPIO_STATE: u32 = 0x0003_8041;

/// The rate in Hz of firmware clock `clock_id` (`keel_firmware_clock_rate`).
///
/// Errors: [`Error::NoDevice`] (the board has no firmware mailbox), [`Error::Io`] (the firmware
/// refused, did not answer, or said 0 Hz).
pub fn clock_rate(clock_id: u32) -> Result<u32> {
    let mut hz = 0u32;
    // SAFETY: `hz` is valid for writes during the call.
    Error::check(unsafe { sys::keel_firmware_clock_rate(rt::handle(), clock_id, &mut hz) })?;
    Ok(hz)
}

/// Runs property `tag` with `values` (request in, response out); the response's length in bytes.
/// [`Error::NoDevice`] on a machine without the firmware mailbox.
pub fn property(tag: u32, values: &mut [u32]) -> Result<usize> {
    let words = u32::try_from(values.len()).map_err(|_| Error::InvalidArgument)?;
    // SAFETY: `values` is valid for reads and writes of `words` words during the call.
    let status =
        unsafe { sys::keel_firmware_property(rt::handle(), tag, values.as_mut_ptr(), words) };
    Error::check(status.min(0))?;
    Ok(status as usize)
}

/// Drives firmware GPIO `gpio` (128 + the expander line) to `high`.
pub fn set_gpio(gpio: u32, high: bool) -> Result {
    let mut values = [gpio, u32::from(high)];
    property(TAG_SET_GPIO_STATE, &mut values).map(|_| ())
}
