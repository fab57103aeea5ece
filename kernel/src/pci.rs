//! PCI behind an ECAM host bridge (`pci-host-ecam-generic`, QEMU `virt`).
//!
//! With a `-kernel` boot no firmware has touched the bus, so the kernel does what firmware would:
//! it scans configuration space, sizes every BAR, assigns each one an aligned range of the host
//! bridge's windows (from the device tree's `ranges`), routes the legacy interrupt pin through the
//! bridge's `interrupt-map` to a GIC interrupt, and turns on memory decoding and bus mastering.
//! The result is a fixed list of [`PciDevice`]s that drivers bind to by vendor and device ID or by
//! class. The Raspberry Pi 4's own PCIe controller (`brcm,bcm2711-pcie`, for the USB chip) is not
//! an ECAM bridge and is not driven.

use alloc::vec::Vec;
use core::fmt;

use fdt::node::FdtNode;
use keel_core::pci::{
    self, Address, Bar, BarKind, ConfigAccess, Function, ParentCells, Window, WindowAllocator,
};
use spin::Once;

use crate::{dt, mm};

/// Device-tree compatibles of ECAM host bridges.
const ECAM_COMPATIBLE: &[&str] = &["pci-host-ecam-generic"];

/// A BAR with the range it was given.
#[derive(Clone, Copy, Debug)]
pub struct AssignedBar {
    /// The BAR as sized.
    pub bar: Bar,
    /// The CPU physical address its range appears at (0 when no window had room).
    pub cpu: u64,
}

/// A function found on the bus, with its resources.
#[derive(Clone, Debug)]
pub struct PciDevice {
    /// Identity and place.
    pub function: Function,
    /// Its BARs, by slot.
    pub bars: [Option<AssignedBar>; 6],
    /// The GIC interrupt ID its interrupt pin is routed to.
    pub irq: Option<u32>,
}

/// Why the bus could not be brought up.
#[derive(Debug)]
pub enum PciError {
    /// A property of the host bridge is malformed.
    Tree(pci::DtError),
    /// The host bridge has no `reg` (its ECAM area).
    NoEcam,
    /// The host bridge is not a child of the root node, so its `ranges` are not CPU addresses.
    Nested,
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PciError::Tree(e) => write!(f, "{e}"),
            PciError::NoEcam => write!(f, "the PCI host bridge has no `reg` for its ECAM area"),
            PciError::Nested => write!(
                f,
                "the PCI host bridge is not on the root bus; nested host bridges are not supported"
            ),
        }
    }
}

static DEVICES: Once<Vec<PciDevice>> = Once::new();
/// Where the ECAM area is: (physical base, size, first bus).
static ECAM: Once<(u64, u64, u8)> = Once::new();

/// Reads the 32-bit configuration register `reg` of the function at `at`; all ones when nothing
/// answers or the board has no ECAM bridge.
pub fn config_read32(at: Address, reg: u16) -> u32 {
    match ECAM.get() {
        Some(&(base, size, first_bus)) => Ecam {
            base,
            size,
            first_bus,
            page: None,
        }
        .read32(at, reg),
        None => u32::MAX,
    }
}

/// The functions [`init`] found (empty before it ran or when the board has no ECAM bridge).
pub fn devices() -> &'static [PciDevice] {
    DEVICES.get().map_or(&[], |d| d.as_slice())
}

/// Configuration space through ECAM, one 4 KiB page per function, mapped when first touched.
struct Ecam {
    base: u64,
    size: u64,
    first_bus: u8,
    /// The last page mapped: (physical, virtual).
    page: Option<(u64, usize)>,
}

impl Ecam {
    /// The virtual address of register `reg` of `at`, or `None` outside the ECAM area.
    fn reg(&mut self, at: Address, reg: u16) -> Option<*mut u32> {
        let offset = pci::ecam_offset(
            at.bus.checked_sub(self.first_bus)?,
            at.device,
            at.function,
            reg & !3,
        );
        if offset >= self.size {
            return None;
        }
        let pa = self.base + offset;
        let page_pa = pa & !(mm::PAGE_SIZE - 1);
        let va = match self.page {
            Some((p, va)) if p == page_pa => va,
            _ => {
                let va = mm::map_device(page_pa, mm::PAGE_SIZE).ok()?;
                self.page = Some((page_pa, va));
                va
            }
        };
        Some((va + (pa - page_pa) as usize) as *mut u32)
    }
}

impl ConfigAccess for Ecam {
    fn read32(&mut self, at: Address, reg: u16) -> u32 {
        match self.reg(at, reg) {
            // SAFETY: the register lies in a mapped device page of the ECAM area.
            Some(p) => unsafe { p.read_volatile() },
            None => u32::MAX,
        }
    }

    fn write32(&mut self, at: Address, reg: u16, value: u32) {
        if let Some(p) = self.reg(at, reg) {
            // SAFETY: as for `read32`; configuration writes have no effect on memory safety.
            unsafe { p.write_volatile(value) };
        }
    }
}

fn be32(bytes: &[u8], i: usize) -> Option<u32> {
    let b = bytes.get(i * 4..i * 4 + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn cells_of(node: &FdtNode<'static, 'static>, name: &str) -> Option<u32> {
    node.property(name).and_then(|p| be32(p.value, 0))
}

/// The GIC interrupt ID of a parent interrupt specifier (the GIC binding: type, number, flags).
fn gic_intid(spec: &[u32]) -> Option<u32> {
    match spec {
        [0, spi, ..] => Some(32 + spi),
        [1, ppi, ..] => Some(16 + ppi),
        _ => None,
    }
}

/// Finds the ECAM host bridge, scans its buses and assigns every BAR. Returns how many functions
/// it found; a board without an ECAM bridge has none.
pub fn init() -> Result<usize, PciError> {
    let mut host = None;
    dt::walk(|node, chain| {
        let ecam = node
            .compatible()
            .is_some_and(|c| c.all().any(|s| ECAM_COMPATIBLE.contains(&s)));
        if ecam {
            host = Some((dt::Device::of(node, chain), chain.len()));
        }
        ecam
    });
    let Some((bridge, depth)) = host else {
        DEVICES.call_once(Vec::new);
        return Ok(0);
    };
    if !bridge.enabled() {
        DEVICES.call_once(Vec::new);
        return Ok(0);
    }
    if depth != 1 {
        return Err(PciError::Nested);
    }
    let &(base, size) = bridge.regs().first().ok_or(PciError::NoEcam)?;
    let node = bridge.node;
    let (first_bus, last_bus) = node
        .property("bus-range")
        .and_then(|p| Some((be32(p.value, 0)?, be32(p.value, 1)?)))
        .unwrap_or((0, ((size >> 20).max(1) - 1) as u32));
    let (first_bus, last_bus) = (first_bus.min(255) as u8, last_bus.min(255) as u8);
    let root_cells = dt::tree().map_or(2, |t| t.root().cell_sizes().address_cells as u32);

    let mut mem32 = None;
    let mut mem64 = None;
    let mut io = None;
    pci::parse_ranges(
        node.property("ranges").map_or(&[], |p| p.value),
        root_cells,
        |w: Window| match w.kind {
            BarKind::Memory32 if mem32.is_none() => mem32 = Some(WindowAllocator::new(w)),
            BarKind::Memory64 if mem64.is_none() => mem64 = Some(WindowAllocator::new(w)),
            BarKind::Io if io.is_none() => io = Some(WindowAllocator::new(w)),
            _ => {}
        },
    )
    .map_err(PciError::Tree)?;
    log::info!(
        target: "pci",
        "ECAM host bridge at {base:#x}, buses {first_bus}-{last_bus}, 32-bit window {}, 64-bit window {}",
        WindowName(mem32.as_ref()),
        WindowName(mem64.as_ref())
    );

    ECAM.call_once(|| (base, size, first_bus));
    let mut ecam = Ecam {
        base,
        size,
        first_bus,
        page: None,
    };
    let mut found = Vec::new();
    pci::scan(&mut ecam, first_bus, last_bus, |f| found.push(f));

    let map = node.property("interrupt-map").map(|p| p.value);
    let mask = node.property("interrupt-map-mask").map(|p| p.value);
    let parent_cells = |phandle: u32| {
        let parent = dt::tree()?.find_phandle(phandle)?;
        Some(ParentCells {
            address: cells_of(&parent, "#address-cells").unwrap_or(0),
            interrupt: cells_of(&parent, "#interrupt-cells")?,
        })
    };

    let mut devices = Vec::with_capacity(found.len());
    for function in found {
        let at = function.at;
        let mut bars = [None; 6];
        let mut command = pci::COMMAND_BUS_MASTER;
        if function.header_type == 0 {
            for bar in pci::size_bars(&mut ecam, at).into_iter().flatten() {
                let window = match bar.kind {
                    BarKind::Io => io.as_mut(),
                    BarKind::Memory32 => mem32.as_mut(),
                    // A 64-bit BAR may also sit below 4 GiB.
                    BarKind::Memory64 => match mem64.as_mut() {
                        Some(w) => Some(w),
                        None => mem32.as_mut(),
                    },
                };
                let placed = window.and_then(|w| {
                    let bus = w.allocate(bar.size)?;
                    Some((bus, w.to_cpu(bus)))
                });
                let (address, cpu) = match placed {
                    Some((bus, cpu)) => {
                        pci::write_bar(&mut ecam, at, &bar, bus);
                        command |= if bar.kind == BarKind::Io {
                            pci::COMMAND_IO
                        } else {
                            pci::COMMAND_MEMORY
                        };
                        (bus, cpu)
                    }
                    None => {
                        log::warn!(target: "pci", "{at}: no window has room for BAR{} ({} bytes): left unassigned", bar.index, bar.size);
                        (0, 0)
                    }
                };
                bars[bar.index as usize] = Some(AssignedBar {
                    bar: Bar { address, ..bar },
                    cpu,
                });
            }
        } else {
            log::warn!(target: "pci", "{at}: header type {}: a bridge's windows are not programmed; the buses behind it are scanned only when their numbers are already set", function.header_type);
        }
        let old = ecam.read16(at, pci::COMMAND);
        ecam.write16(at, pci::COMMAND, old | command);

        let irq = match (map, mask, function.interrupt_pin) {
            (Some(map), Some(mask), pin @ 1..=4) => {
                match pci::route_interrupt(map, mask, at, pin, parent_cells) {
                    Ok(Some((spec, n))) => gic_intid(&spec[..n]),
                    Ok(None) => None,
                    Err(e) => {
                        log::warn!(target: "pci", "{at}: interrupt not routed: {e}");
                        None
                    }
                }
            }
            _ => None,
        };
        log::info!(target: "pci", "{}", Summary(&function, &bars, irq));
        devices.push(PciDevice {
            function,
            bars,
            irq,
        });
    }
    let n = devices.len();
    DEVICES.call_once(|| devices);
    Ok(n)
}

struct WindowName<'a>(Option<&'a WindowAllocator>);

impl fmt::Display for WindowName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.map(|w| w.window()) {
            Some(w) => write!(f, "{:#x}+{:#x}", w.cpu, w.size),
            None => write!(f, "none"),
        }
    }
}

/// One line per function: `00:02.0 1b36:0007 class 080501 BAR0 mem32 0x10000000 (256 bytes) irq 37`.
struct Summary<'a>(&'a Function, &'a [Option<AssignedBar>; 6], Option<u32>);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Summary(func, bars, irq) = self;
        write!(
            f,
            "{} {:04x}:{:04x} class {:06x}",
            func.at, func.vendor, func.device, func.class
        )?;
        for b in bars.iter().flatten() {
            let kind = match b.bar.kind {
                BarKind::Io => "io",
                BarKind::Memory32 => "mem32",
                BarKind::Memory64 => "mem64",
            };
            write!(
                f,
                " BAR{} {kind} {:#x} ({} bytes)",
                b.bar.index, b.cpu, b.bar.size
            )?;
        }
        if let Some(irq) = irq {
            write!(f, " irq {irq}")?;
        }
        Ok(())
    }
}
