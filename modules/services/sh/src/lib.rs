//! The pure logic of `sh`, testable on the host: the line editor, the command-line parser,
//! module metadata and `modules.dep`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod lineedit;
pub mod modinfo;
pub mod modules;
pub mod parse;
