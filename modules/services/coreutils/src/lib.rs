//! Shared code of the coreutils programs. The formatting and parsing here is pure (`core` and
//! `alloc` only) and tested on the host.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod dd;
pub mod fmt;
pub mod gpio;
pub mod hexdump;
pub mod stty;
