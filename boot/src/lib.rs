//! Boot.
#![no_std]
