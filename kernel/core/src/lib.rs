//! Pure kernel logic that runs the same on the host and in the kernel.
#![cfg_attr(not(test), no_std)]
