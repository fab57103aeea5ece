//! `failinit`: a test module whose `init` fails with `ENODEV`. The loader must report the error,
//! undo the load and leave no trace in `lsmod`; `exit` must never run.
#![no_std]
#![forbid(unsafe_code)]

use keel_module::Error;

keel_module::module! {
    name: "failinit",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Test module: init fails with ENODEV",
    depends: [],
    compatible: [],
    params: {},
    init: failinit_init,
    exit: failinit_exit,
}

fn failinit_init() -> Result<(), Error> {
    log::warn!("failing on purpose with ENODEV");
    Err(Error::NoDevice)
}

fn failinit_exit() {
    // Never reached: a module whose init failed is not initialised, so it is not torn down.
    panic!("exit ran although init failed");
}
