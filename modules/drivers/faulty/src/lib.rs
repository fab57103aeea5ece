//! `faulty`: a test module that misbehaves on request, so the kernel can prove that a fault in a
//! module is contained. Parameter `fault`:
//!
//! | value | what happens |
//! |---|---|
//! | `none` (default) | loads and unloads cleanly |
//! | `init` | loads from address 0 during `init` (a data abort at EL1) |
//! | `exit` | loads from address 0 during `exit` |
//! | `panic` | panics during `init` (reaches `keel_module_panic`) |
//!
//! Any other value makes `init` fail with `EINVAL`.
#![no_std]

use keel_module::Error;

keel_module::module! {
    name: "faulty",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Test module: faults or panics on request (fault=none|init|exit|panic)",
    depends: [],
    compatible: [],
    params: {
        fault: str = "none" => "where to fail: none, init, exit or panic",
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

fn faulty_init() -> Result<(), Error> {
    match params::fault() {
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
            log::error!("unknown fault `{other}`: use none, init, exit or panic");
            Err(Error::InvalidArgument)
        }
    }
}

fn faulty_exit() {
    if params::fault() == "exit" {
        log::warn!("loading from address 0 in exit");
        let value = null_load();
        log::error!("survived the null load (read {value:#x})");
    } else {
        log::info!("unloaded");
    }
}
