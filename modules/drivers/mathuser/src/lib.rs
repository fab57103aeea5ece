//! `mathuser`: imports `mathcore_gcd` from the `mathcore` module, which must be loaded first.
//!
//! ```text
//! insmod /lib/modules/mathcore.ko
//! insmod /lib/modules/mathuser.ko a=84 b=36    # logs "gcd(84, 36) = 12"
//! ```
#![no_std]
#![forbid(unsafe_code)]

use keel_module::Error;

keel_module::module! {
    name: "mathuser",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Uses mathcore_gcd from mathcore",
    depends: ["mathcore"],
    compatible: [],
    params: {
        a: u64 = 84 => "first number",
        b: u64 = 36 => "second number",
    },
    init: mathuser_init,
    exit: mathuser_exit,
}

keel_module::import! {
    /// The greatest common divisor, from `mathcore`.
    fn mathcore_gcd(a: u64, b: u64) -> u64;
}

fn mathuser_init() -> Result<(), Error> {
    let (a, b) = (params::a(), params::b());
    log::info!("gcd({a}, {b}) = {}", mathcore_gcd(a, b));
    Ok(())
}

fn mathuser_exit() {}
