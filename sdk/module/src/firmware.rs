//! The Raspberry Pi firmware's property interface (mailbox channel 8), through the kernel:
//! clock rates, power, the expander GPIOs. Not for interrupt handlers.
//!
//! ```ignore
//! let hz = keel_module::firmware::clock_rate(12)?; // the EMMC2 clock
//! ```

use crate::{rt, sys, Error, Result};

/// GET_CLOCK_RATE.
pub const TAG_GET_CLOCK_RATE: u32 = 0x0003_0002;
/// SET_GPIO_STATE (expander GPIOs are numbered from 128).
pub const TAG_SET_GPIO_STATE: u32 = 0x0003_8041;

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

/// The rate in Hz of firmware clock `id` (1 EMMC, 12 EMMC2); `None` when it cannot be read
/// or the firmware says 0.
pub fn clock_rate(id: u32) -> Option<u64> {
    let mut values = [id, 0];
    property(TAG_GET_CLOCK_RATE, &mut values).ok()?;
    (values[0] == id && values[1] != 0).then_some(u64::from(values[1]))
}

/// Drives firmware GPIO `gpio` (128 + the expander line) to `high`.
pub fn set_gpio(gpio: u32, high: bool) -> Result {
    let mut values = [gpio, u32::from(high)];
    property(TAG_SET_GPIO_STATE, &mut values).map(|_| ())
}
