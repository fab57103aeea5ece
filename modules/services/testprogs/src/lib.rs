//! The pure logic of the test programs, testable on the host: a small random number generator
//! and `sysfuzz`'s call generator with the rules that keep it from hurting itself or the system.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod fuzz;
pub mod rng;
