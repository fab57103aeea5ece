//! `ttyloop`: a loopback terminal, `/dev/ttyloopN`: what is written to it is read back from it,
//! like a serial port with its transmit and receive pins joined. It exercises the tty class
//! without hardware.
//!
//! ```text
//! insmod /lib/modules/ttyloop.ko
//! echo hi > /dev/ttyloop0; dd if=/dev/ttyloop0 bs=3 count=1
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;

use keel_module::device::{TtyDriver, TtyInput};
use keel_module::{Device, Result};

keel_module::module! {
    name: "ttyloop",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Loopback terminal",
    depends: [],
    compatible: [],
    params: {},
    init: init,
    exit: exit,
}

/// The loop: its own input, known once the device is registered.
struct Loop {
    input: spin::Once<TtyInput>,
}

impl TtyDriver for Loop {
    fn write(&self, data: &[u8]) -> Result<usize> {
        match self.input.get() {
            // What the kernel's input buffer cannot take is not "sent": the writer waits.
            Some(input) => input.receive(data),
            None => Ok(0),
        }
    }
}

static DEVICE: spin::Mutex<Option<Device<Loop>>> = spin::Mutex::new(None);

fn init() -> Result {
    let driver = Arc::new(Loop {
        input: spin::Once::new(),
    });
    let device = Device::tty("ttyloop#", driver.clone())?;
    driver.input.call_once(|| device.tty_input());
    *DEVICE.lock() = Some(device);
    Ok(())
}

fn exit() {
    drop(DEVICE.lock().take());
}
