//! `cargo xtask`: the one front door for building, running and testing Keel.
fn main() {}
