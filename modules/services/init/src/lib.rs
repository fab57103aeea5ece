//! The pure logic of `init`, testable on the host: the `/etc/inittab` parser and the respawn
//! back-off.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod backoff;
pub mod inittab;
