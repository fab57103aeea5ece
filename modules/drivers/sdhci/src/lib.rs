//! `sdhci`: SD memory cards on SD Host Controller Interface hosts, as `/dev/mmcblkN` (and a
//! node per MBR partition, made by the kernel's block layer).
//!
//! - [`proto`]: the SD protocol and register values as pure logic (tested on the host).
//! - [`host`]: the SDHCI core: the register block, card initialisation (CMD0, CMD8, ACMD41 with
//!   HCS, CMD2/3/9/7, ACMD6 4-bit bus, CMD6 high speed when the host can, the fastest clock the
//!   host allows), and block transfers (CMD17/18/24/25, auto-CMD12) moved by its interrupt
//!   handler.
//! - This file: the bus glue. Device-tree nodes (`brcm,bcm2711-emmc2` on the Pi 4,
//!   `brcm,bcm2835-sdhci`, the EMMC that holds the card on QEMU `raspi4b`) and PCI functions
//!   (`1b36:0007`, QEMU's `sdhci-pci` on `virt`). Board differences are data: [`QUIRKS`] maps a
//!   compatible string to quirk flags.
//!
//! The driver parts link against the kernel's exports; `cargo test -p sdhci --lib` builds only
//! [`proto`] on the host.
//!
//! Every controller is probed; those with a card get a block device. A module that finds no card
//! at all fails its `init` with `ENOMEDIUM` ("no medium found") after logging each controller.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(not(test))]
mod glue;
#[cfg(not(test))]
pub mod host;
pub mod proto;

#[cfg(not(test))]
pub use glue::QUIRKS;
