//! The bus glue: device-tree nodes and PCI functions, each probed with its board's quirks.

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_module::platform::PciFunction;
use keel_module::{Device, Error, IrqRegistration, Result};

use crate::host::{Host, Quirks};

keel_module::module! {
    name: "sdhci",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "SD cards on SDHCI hosts (BCM2711 EMMC2 and EMMC, sdhci-pci)",
    depends: [],
    compatible: ["brcm,bcm2711-emmc2", "brcm,bcm2835-sdhci"],
    pci: ["1b36:0007"],
    pci_class: ["080501"],
    params: {
        inject_timeout: u32 = 0 => "for tests: leave the Nth block transfer after loading unanswered, so the kernel times it out, aborts and retries (0 means never)",
    },
    init: init,
    exit: exit,
}

/// Board quirks by compatible string.
pub const QUIRKS: &[(&str, Quirks)] = &[
    (
        // BCM2711 EMMC2, the Pi 4's SD slot: 32-bit register writes only (every access of the
        // core is 32 bits wide), 3.3 V signalling selected and the base clock read through the
        // firmware (clock 12), and card detect not wired ("broken-cd").
        "brcm,bcm2711-emmc2",
        Quirks {
            firmware_clock: Some(12),
            firmware_3v3: true,
            broken_card_detect: true,
        },
    ),
    (
        // The BCM2835-style Arasan EMMC (the card on QEMU raspi4b; the Wi-Fi chip on a Pi 4).
        "brcm,bcm2835-sdhci",
        Quirks {
            firmware_clock: Some(1),
            firmware_3v3: false,
            broken_card_detect: false,
        },
    ),
];

/// The class code of an SDHCI host with the standard register set (SD host, SDHCI).
const PCI_CLASS_SDHCI: u32 = 0x08_0501;

/// A controller with a card: its block device and interrupt handler.
struct Slot {
    device: Device<Host>,
    _irq: IrqRegistration,
}

static SLOTS: spin::Mutex<Vec<Slot>> = spin::Mutex::new(Vec::new());

/// Brings up one controller and registers its card.
fn probe(what: &str, phys: u64, size: u64, irq: Option<u32>, quirks: Quirks) -> Result {
    let irq = irq.ok_or(Error::NoDevice)?;
    let host = Arc::new(Host::new(what, phys, size as usize, quirks)?);
    host.inject_timeout(params::inject_timeout());
    let handler = host.clone();
    let registration = IrqRegistration::shared(irq, move || handler.interrupt())?;
    host.use_interrupts();
    host.init_card()?;
    let device = Device::block("mmcblk#", host.clone())?;
    host.set_completion(device.block_completion());
    SLOTS.lock().push(Slot {
        device,
        _irq: registration,
    });
    Ok(())
}

fn init() -> Result {
    let mut first_error = None;
    let mut found = 0;
    for node in keel_module::platform::devices() {
        let quirks = QUIRKS
            .iter()
            .find(|(c, _)| *c == node.compatible())
            .map_or(Quirks::default(), |(_, q)| *q);
        let Some((phys, size)) = node.reg(0) else {
            continue;
        };
        match probe(node.path(), phys, size, node.irq(0), quirks) {
            Ok(()) => found += 1,
            Err(e) => {
                log::info!("{}: {e}", node.path());
                first_error.get_or_insert(e);
            }
        }
    }
    for function in keel_module::platform::pci_functions() {
        let (bus, dev, func) = function.address();
        if function.class() != PCI_CLASS_SDHCI {
            log::info!(
                "pci {bus:02x}:{dev:02x}.{func}: class {:06x} is not an SDHCI host",
                function.class()
            );
            continue;
        }
        let what = alloc::format!("pci {bus:02x}:{dev:02x}.{func}");
        let result = bar0(&function)
            .and_then(|(phys, size)| probe(&what, phys, size, function.irq(), Quirks::default()));
        match result {
            Ok(()) => found += 1,
            Err(e) => {
                log::info!("{what}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    if found == 0 {
        log::error!("no SD card found on any controller");
        return Err(match first_error {
            None | Some(Error::NoMedium) | Some(Error::TimedOut) => Error::NoMedium,
            Some(e) => e,
        });
    }
    Ok(())
}

/// The registers of an `sdhci-pci` function: BAR0.
fn bar0(function: &PciFunction) -> Result<(u64, u64)> {
    function.bar(0).ok_or(Error::NoDevice)
}

fn exit() {
    let slots = core::mem::take(&mut *SLOTS.lock());
    for slot in slots {
        // The device goes first (no more transfers), then the interrupt handler.
        drop(slot.device);
    }
}
