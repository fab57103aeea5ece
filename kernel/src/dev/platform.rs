//! Platform devices: the device-tree nodes a module drives, found by the `compatible` strings
//! it declares, with their resources in CPU terms (the `keel_platform_device` export); and the
//! PCI functions it drives, found by its `pci` ids (the `keel_pci_device` export).

use keel_abi::device::{PlatformDevice, PLATFORM_MAX_ITEMS, PLATFORM_PATH_MAX};
use keel_abi::Errno;
use keel_core::dtaddr;

use crate::dt::Device;
use crate::module::{self, ModuleId};

/// The `index`th enabled node (in tree order) compatible with one of `module`'s `compatible`
/// strings. `ENODEV` when there is none.
pub fn device(module: ModuleId, index: u32) -> Result<PlatformDevice, Errno> {
    let wanted = module::compatible_of(module);
    if wanted.is_empty() {
        return Err(Errno::ENODEV);
    }
    let mut seen = 0u32;
    let mut found = None;
    crate::dt::walk(|node, chain| {
        let Some(compatible) = node.compatible() else {
            return false;
        };
        let Some(matched) = compatible.all().find(|c| wanted.iter().any(|w| w == c)) else {
            return false;
        };
        let dev = Device::of(node, chain);
        if !dev.enabled() {
            return false;
        }
        if seen == index {
            found = Some(describe(&dev, chain, matched));
            return true;
        }
        seen += 1;
        false
    });
    found.ok_or(Errno::ENODEV)
}

fn copy_text(out: &mut [u8; PLATFORM_PATH_MAX], len: &mut u32, text: &str) {
    let mut n = 0;
    for b in text.bytes().take(PLATFORM_PATH_MAX) {
        out[n] = b;
        n += 1;
    }
    *len = n as u32;
}

fn describe(
    dev: &Device,
    chain: &[fdt::node::FdtNode<'static, 'static>],
    compatible: &str,
) -> PlatformDevice {
    let mut out = PlatformDevice::default();
    for (slot, &(addr, size)) in out.regs.iter_mut().zip(dev.regs()) {
        *slot = [addr, size];
        out.nregs += 1;
    }
    for (slot, &irq) in out.irqs.iter_mut().zip(dev.irqs()) {
        *slot = irq;
        out.nirqs += 1;
    }
    for (slot, rate) in out.clocks.iter_mut().zip(clock_rates(dev)) {
        *slot = rate;
        out.nclocks += 1;
    }
    let mut path = alloc::string::String::new();
    for node in chain.iter().skip(1).chain(core::iter::once(&dev.node)) {
        path.push('/');
        path.push_str(node.name);
    }
    if path.is_empty() {
        path.push('/');
    }
    copy_text(&mut out.path, &mut out.path_len, &path);
    copy_text(&mut out.compatible, &mut out.compatible_len, compatible);
    out
}

/// The rates of the clocks a node's `clocks` property names: each entry is a provider's phandle
/// followed by that provider's `#clock-cells` cells; a provider's rate is its `clock-frequency`
/// (fixed clocks), 0 when the tree does not say.
fn clock_rates(dev: &Device) -> impl Iterator<Item = u64> {
    let mut rates = [0u64; PLATFORM_MAX_ITEMS];
    let mut count = 0;
    if let (Some(tree), Some(clocks)) = (crate::dt::tree(), dev.node.property("clocks")) {
        let mut rest = clocks.value;
        while count < PLATFORM_MAX_ITEMS {
            let Some((phandle, r)) = dtaddr::read_cells(rest, 1) else {
                break;
            };
            let provider = tree.find_phandle(phandle as u32);
            let cells = provider
                .and_then(|p| p.property("#clock-cells"))
                .and_then(|p| p.as_usize())
                .unwrap_or(0);
            let Some(r) = r.get(cells * 4..) else {
                break;
            };
            rest = r;
            rates[count] = provider
                .and_then(|p| p.property("clock-frequency"))
                .and_then(|p| p.as_usize())
                .unwrap_or(0) as u64;
            count += 1;
        }
    }
    rates.into_iter().take(count)
}

/// The `index`th PCI function (in bus order) whose `vendor:device` is one of `module`'s `pci`
/// ids or whose class is one of its `pci_class` classes, with its assigned memory BARs and routed
/// interrupt. `ENODEV` when there is none.
pub fn pci_device(module: ModuleId, index: u32) -> Result<keel_abi::device::PciDevice, Errno> {
    let (ids, classes) = module::pci_ids_of(module);
    let found = crate::pci::devices()
        .iter()
        .filter(|d| {
            ids.contains(&(d.function.vendor, d.function.device))
                || classes.contains(&d.function.class)
        })
        .nth(index as usize)
        .ok_or(Errno::ENODEV)?;
    let f = &found.function;
    let mut out = keel_abi::device::PciDevice {
        vendor: f.vendor,
        device: f.device,
        class: f.class,
        bus: f.at.bus,
        slot: f.at.device,
        function: f.at.function,
        reserved: 0,
        irq: found.irq.unwrap_or(0),
        bars: [[0; 2]; 6],
    };
    for (slot, bar) in out.bars.iter_mut().zip(found.bars.iter()) {
        if let Some(b) = bar {
            if b.cpu != 0 && b.bar.kind != keel_core::pci::BarKind::Io {
                *slot = [b.cpu, b.bar.size];
            }
        }
    }
    Ok(out)
}
