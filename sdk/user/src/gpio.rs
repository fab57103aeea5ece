//! GPIO controllers (`/dev/gpiochipN`): safe wrappers of the `keel_abi::device::GPIO_*` ioctls.
//!
//! A program opens a chip, requests the lines it uses (another program holding a line gets
//! `EBUSY`), then sets directions, levels and pulls, reads levels or waits for edges and levels
//! (`GPIO_LEVEL_*`; a level the line is at returns at once). Closing the chip releases its lines.
//!
//! ```ignore
//! let chip = keel_user::gpio::Chip::open("/dev/gpiochip0")?;
//! chip.request(5)?;
//! chip.set_direction(5, true, true)?; // output, high
//! assert!(chip.get(5)?);
//! ```

use keel_abi::device::{
    GpioChipInfo, GpioEvent, GpioLineArg, GPIO_GET_CHIPINFO, GPIO_GET_VALUE, GPIO_INPUT,
    GPIO_OUTPUT, GPIO_RELEASE_LINE, GPIO_REQUEST_LINE, GPIO_SET_DIRECTION, GPIO_SET_PULL,
    GPIO_SET_VALUE, GPIO_WAIT_EVENT,
};

use crate::fs::{File, O_RDWR};

pub use keel_abi::device::{
    GPIO_EDGE_BOTH, GPIO_EDGE_FALLING, GPIO_EDGE_RISING, GPIO_LEVEL_HIGH, GPIO_LEVEL_LOW,
    GPIO_PULL_DOWN, GPIO_PULL_NONE, GPIO_PULL_UP,
};

/// An open GPIO controller.
pub struct Chip {
    file: File,
}

impl Chip {
    /// Opens the controller at `path`.
    pub fn open(path: &str) -> crate::Result<Chip> {
        Ok(Chip {
            file: File::open_with(path, O_RDWR)?,
        })
    }

    fn line_ioctl(&self, request: u64, line: u32, value: u32, extra: u32) -> crate::Result<u64> {
        let arg = GpioLineArg {
            line,
            value,
            extra,
            reserved: 0,
        };
        // SAFETY: the line ioctls read one `GpioLineArg`, a local that outlives the call.
        unsafe { self.file.ioctl(request, &arg as *const GpioLineArg as u64) }
    }

    /// The number of lines and the driver's name.
    pub fn info(&self) -> crate::Result<GpioChipInfo> {
        let mut info = GpioChipInfo::default();
        // SAFETY: GPIO_GET_CHIPINFO writes one `GpioChipInfo` into a local.
        unsafe {
            self.file
                .ioctl(GPIO_GET_CHIPINFO, &mut info as *mut GpioChipInfo as u64)?
        };
        Ok(info)
    }

    /// Requests `line` for this program (`EBUSY` if another holds it).
    pub fn request(&self, line: u32) -> crate::Result<()> {
        self.line_ioctl(GPIO_REQUEST_LINE, line, 0, 0).map(drop)
    }

    /// Releases a requested line.
    pub fn release(&self, line: u32) -> crate::Result<()> {
        self.line_ioctl(GPIO_RELEASE_LINE, line, 0, 0).map(drop)
    }

    /// Makes `line` an output driving `high` first, or an input.
    pub fn set_direction(&self, line: u32, output: bool, high: bool) -> crate::Result<()> {
        let direction = if output { GPIO_OUTPUT } else { GPIO_INPUT };
        self.line_ioctl(GPIO_SET_DIRECTION, line, direction, high as u32)
            .map(drop)
    }

    /// Drives output `line`.
    pub fn set(&self, line: u32, high: bool) -> crate::Result<()> {
        self.line_ioctl(GPIO_SET_VALUE, line, high as u32, 0)
            .map(drop)
    }

    /// The level of `line`.
    pub fn get(&self, line: u32) -> crate::Result<bool> {
        self.line_ioctl(GPIO_GET_VALUE, line, 0, 0).map(|v| v != 0)
    }

    /// Sets the bias of `line` (`GPIO_PULL_*`).
    pub fn set_pull(&self, line: u32, pull: u32) -> crate::Result<()> {
        self.line_ioctl(GPIO_SET_PULL, line, pull, 0).map(drop)
    }

    /// Waits for one of `edges` (`GPIO_EDGE_*`), or for one level (`GPIO_LEVEL_HIGH` or
    /// `GPIO_LEVEL_LOW` alone), on `line`; returns the event seen and when, in nanoseconds since
    /// boot. A level the line is at already returns at once; a chip whose driver cannot detect
    /// levels answers `EOPNOTSUPP`.
    pub fn wait(&self, line: u32, edges: u32) -> crate::Result<(u32, u64)> {
        let mut event = GpioEvent {
            line,
            edges,
            timestamp_ns: 0,
        };
        // SAFETY: GPIO_WAIT_EVENT reads and writes one `GpioEvent`, a local.
        unsafe {
            self.file
                .ioctl(GPIO_WAIT_EVENT, &mut event as *mut GpioEvent as u64)?
        };
        Ok((event.edges, event.timestamp_ns))
    }
}
