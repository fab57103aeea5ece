//! `hello`: the smallest useful module. Logs its greeting `count` times when loaded and says
//! goodbye when unloaded.
//!
//! ```text
//! insmod /lib/modules/hello.ko greeting="hi there" count=2
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use keel_module::Error;

keel_module::module! {
    name: "hello",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Says hello",
    depends: [],
    compatible: [],
    params: {
        greeting: str = "hello" => "what to say",
        count: u32 = 1 => "how many times",
    },
    init: hello_init,
    exit: hello_exit,
}

fn hello_init() -> Result<(), Error> {
    for n in 1..=params::count() {
        log::info!("{} ({n}/{})", params::greeting(), params::count());
    }
    // Exercises the kernel heap through the SDK's global allocator.
    let mut shout = String::from(params::greeting());
    shout.make_ascii_uppercase();
    log::debug!("{shout}!");
    Ok(())
}

fn hello_exit() {
    log::info!("goodbye");
}
