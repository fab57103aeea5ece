//! `mathcore`: a library module. Exports `mathcore_gcd` to other modules (see `mathuser`).
#![no_std]
#![forbid(unsafe_code)]

use keel_module::Error;

keel_module::module! {
    name: "mathcore",
    version: "1.0.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Exports arithmetic helpers to other modules",
    depends: [],
    compatible: [],
    params: {},
    init: mathcore_init,
    exit: mathcore_exit,
}

keel_module::export! {
    /// The greatest common divisor of `a` and `b` (`mathcore_gcd(0, 0)` is 0).
    pub fn mathcore_gcd(a: u64, b: u64) -> u64 {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
}

fn mathcore_init() -> Result<(), Error> {
    log::info!("ready: gcd(12, 18) = {}", mathcore_gcd(12, 18));
    Ok(())
}

fn mathcore_exit() {}
