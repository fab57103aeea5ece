//! `faulty`: a test module that misbehaves on request, so the kernel can prove that a fault in a
//! module is contained. Parameter `fault`:
//!
//! | value | what happens |
//! |---|---|
//! | `none` (default) | loads and unloads cleanly |
//! | `init` | loads from address 0 during `init` (a data abort at EL1) |
//! | `exit` | loads from address 0 during `exit` |
//! | `panic` | panics during `init` (reaches `keel_module_panic`) |
//! | `device` | registers `/dev/faultyN`, a one-line GPIO controller whose `get` loads from address 0 |
//!
//! Any other value makes `init` fail with `EINVAL`.
#![no_std]

extern crate alloc;

use alloc::sync::Arc;

use keel_module::device::{Direction, GpioChip};
use keel_module::{Device, Error};

keel_module::module! {
    name: "faulty",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Test module: faults or panics on request (fault=none|init|exit|panic|device)",
    depends: [],
    compatible: [],
    params: {
        fault: str = "none" => "where to fail: none, init, exit, panic or device",
    },
    init: faulty_init,
    exit: faulty_exit,
}

/// Reads from address 0, which the kernel never maps: a translation fault at EL1.
#[inline(never)]
fn null_load() -> u64 {
    let null = core::hint::black_box(core::ptr::null::<u64>());
    // SAFETY: none: this is deliberately undefined behaviour at the machine level, a load from
    // the unmapped address 0, made opaque to the optimiser by `black_box` and a volatile read.
    // The kernel's fault handler must catch it and fail the module.
    unsafe { core::ptr::read_volatile(null) }
}

/// A GPIO controller that faults when a line is read.
struct FaultyChip;

impl GpioChip for FaultyChip {
    fn lines(&self) -> u32 {
        1
    }

    fn set_direction(&self, _line: u32, _direction: Direction) -> Result<(), Error> {
        Ok(())
    }

    fn get(&self, _line: u32) -> Result<bool, Error> {
        log::warn!("loading from address 0 in a device operation");
        Ok(null_load() != 0)
    }

    fn set(&self, _line: u32, _high: bool) -> Result<(), Error> {
        Ok(())
    }
}

/// The device of `fault=device`, removed in `exit`.
static DEVICE: spin::Mutex<Option<Device<FaultyChip>>> = spin::Mutex::new(None);

fn faulty_init() -> Result<(), Error> {
    match params::fault() {
        "device" => {
            let device = Device::gpio("faulty#", Arc::new(FaultyChip))?;
            log::info!("loaded (fault=device): reading a line of its GPIO device faults");
            *DEVICE.lock() = Some(device);
            Ok(())
        }
        "none" | "exit" => {
            log::info!("loaded (fault={})", params::fault());
            Ok(())
        }
        "init" => {
            log::warn!("loading from address 0 in init");
            let value = null_load();
            log::error!("survived the null load (read {value:#x})");
            Err(Error::Io)
        }
        "panic" => panic!("panicking in init on request"),
        other => {
            log::error!("unknown fault `{other}`: use none, init, exit, panic or device");
            Err(Error::InvalidArgument)
        }
    }
}

fn faulty_exit() {
    drop(DEVICE.lock().take());
    if params::fault() == "exit" {
        log::warn!("loading from address 0 in exit");
        let value = null_load();
        log::error!("survived the null load (read {value:#x})");
    } else {
        log::info!("unloaded");
    }
}
