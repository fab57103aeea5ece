//! PCI configuration space: enumeration, BAR sizing and assignment, host-bridge windows and
//! legacy interrupt routing, over any [`ConfigAccess`].
//!
//! The kernel reaches configuration space through ECAM (one 4 KiB page per function at
//! `base + (bus << 20 | device << 15 | function << 12)`); the tests here use a model of a few
//! devices. Nothing in this module touches memory by itself: the caller supplies the accessor,
//! the windows from the host bridge's `ranges`, and the parent interrupt controller's cell counts.

use core::fmt;

/// Offset of the vendor ID (16 bits) in every header.
pub const VENDOR_ID: u16 = 0x00;
/// Offset of the device ID (16 bits).
pub const DEVICE_ID: u16 = 0x02;
/// Offset of the command register (16 bits).
pub const COMMAND: u16 = 0x04;
/// Offset of the revision (8 bits), then programming interface, subclass and class.
pub const CLASS_REVISION: u16 = 0x08;
/// Offset of the header type (8 bits; bit 7: multi-function).
pub const HEADER_TYPE: u16 = 0x0e;
/// Offset of BAR 0; BARs follow every 4 bytes.
pub const BAR0: u16 = 0x10;
/// Offset of the interrupt pin (8 bits; 1 = INTA .. 4 = INTD, 0 = none).
pub const INTERRUPT_PIN: u16 = 0x3d;
/// Offset of a type-1 header's primary, secondary and subordinate bus numbers.
pub const BRIDGE_BUSES: u16 = 0x18;

/// COMMAND: respond to I/O space accesses.
pub const COMMAND_IO: u16 = 1 << 0;
/// COMMAND: respond to memory space accesses.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// COMMAND: may master the bus (DMA).
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;

/// Devices on a bus.
pub const DEVICES: u8 = 32;
/// Functions of a device.
pub const FUNCTIONS: u8 = 8;

/// The ECAM offset of a function's configuration register `reg`.
pub const fn ecam_offset(bus: u8, device: u8, function: u8, reg: u16) -> u64 {
    ((bus as u64) << 20) | ((device as u64 & 31) << 15) | ((function as u64 & 7) << 12) | reg as u64
}

/// A function's place: bus, device (0..32) and function (0..8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    /// Bus number.
    pub bus: u8,
    /// Device number, below 32.
    pub device: u8,
    /// Function number, below 8.
    pub function: u8,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// 32-bit access to configuration space. Narrower fields are read from their aligned word.
pub trait ConfigAccess {
    /// Reads the aligned 32-bit register at `reg` of function `at`; all ones when nothing answers.
    fn read32(&mut self, at: Address, reg: u16) -> u32;
    /// Writes the aligned 32-bit register at `reg` of function `at`.
    fn write32(&mut self, at: Address, reg: u16, value: u32);

    /// Reads the 16-bit field at `reg` (2-byte aligned).
    fn read16(&mut self, at: Address, reg: u16) -> u16 {
        (self.read32(at, reg & !3) >> ((reg & 2) * 8)) as u16
    }

    /// Reads the byte at `reg`.
    fn read8(&mut self, at: Address, reg: u16) -> u8 {
        (self.read32(at, reg & !3) >> ((reg & 3) * 8)) as u8
    }

    /// Writes the 16-bit field at `reg` (2-byte aligned), keeping the other half of its word.
    /// The command register's neighbour is the status register, whose bits clear when written
    /// with ones, so the other half is written as zeros there.
    fn write16(&mut self, at: Address, reg: u16, value: u16) {
        let shift = (reg & 2) * 8;
        let word = if reg & !3 == COMMAND & !3 {
            0
        } else {
            self.read32(at, reg & !3) & !(0xffff << shift)
        };
        self.write32(at, reg & !3, word | (value as u32) << shift);
    }
}

/// What kind of address space a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// I/O ports.
    Io,
    /// Memory below 4 GiB (a 32-bit BAR).
    Memory32,
    /// Memory anywhere (a 64-bit BAR, which takes two BAR slots).
    Memory64,
}

/// One base address register, as sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Its slot (0..6); a 64-bit BAR also uses the next one.
    pub index: u8,
    /// The address space it decodes.
    pub kind: BarKind,
    /// Whether reads have no side effects (may be mapped write-combining).
    pub prefetchable: bool,
    /// Its size in bytes, a power of two.
    pub size: u64,
    /// The bus address it decodes now (0 until assigned).
    pub address: u64,
}

/// Sizes every BAR of a type-0 function: saves each, writes all ones, reads the size mask back and
/// restores it, with memory and I/O decoding off meanwhile (the command register is restored).
pub fn size_bars(cfg: &mut impl ConfigAccess, at: Address) -> [Option<Bar>; 6] {
    let mut bars = [None; 6];
    let command = cfg.read16(at, COMMAND);
    cfg.write16(at, COMMAND, command & !(COMMAND_IO | COMMAND_MEMORY));
    let mut index = 0u8;
    while index < 6 {
        let reg = BAR0 + 4 * index as u16;
        let original = cfg.read32(at, reg);
        cfg.write32(at, reg, u32::MAX);
        let mask = cfg.read32(at, reg);
        cfg.write32(at, reg, original);
        let io = original & 1 == 1;
        let wide = !io && (original >> 1) & 3 == 2 && index < 5;
        // The writable address bits, as a 64-bit mask with everything above the BAR's reach set.
        // 16-bit I/O BARs read their upper half back as zeros.
        let (mut size_bits, mut address) = if io {
            ((mask | 0xffff_0000) as u64 & !3, original as u64 & !3)
        } else {
            (mask as u64 & !0xf, original as u64 & !0xf)
        };
        if wide {
            let high_reg = reg + 4;
            let high = cfg.read32(at, high_reg);
            cfg.write32(at, high_reg, u32::MAX);
            let high_mask = cfg.read32(at, high_reg);
            cfg.write32(at, high_reg, high);
            size_bits |= (high_mask as u64) << 32;
            address |= (high as u64) << 32;
        } else {
            size_bits |= 0xffff_ffff_0000_0000;
        }
        let implemented = if io {
            mask & !3 & 0xffff != 0
        } else {
            size_bits & !0xffff_ffff_0000_0000 != 0 || wide && size_bits >> 32 != 0
        };
        let size = (!size_bits).wrapping_add(1);
        if implemented && size.is_power_of_two() {
            bars[index as usize] = Some(Bar {
                index,
                kind: if io {
                    BarKind::Io
                } else if wide {
                    BarKind::Memory64
                } else {
                    BarKind::Memory32
                },
                prefetchable: !io && original & 8 != 0,
                size,
                address,
            });
        }
        index += if wide { 2 } else { 1 };
    }
    cfg.write16(at, COMMAND, command);
    bars
}

/// Writes `address` into `bar`'s register(s).
pub fn write_bar(cfg: &mut impl ConfigAccess, at: Address, bar: &Bar, address: u64) {
    let reg = BAR0 + 4 * bar.index as u16;
    let low_flags = cfg.read32(at, reg) & if bar.kind == BarKind::Io { 3 } else { 0xf };
    cfg.write32(at, reg, (address as u32) & !0xf | low_flags);
    if bar.kind == BarKind::Memory64 {
        cfg.write32(at, reg + 4, (address >> 32) as u32);
    }
}

/// A function found by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// Where it is.
    pub at: Address,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Class, subclass and programming interface (`0x080501` for an SDHCI host).
    pub class: u32,
    /// Revision.
    pub revision: u8,
    /// Header type without the multi-function bit (0 device, 1 PCI-to-PCI bridge).
    pub header_type: u8,
    /// Interrupt pin: 1 = INTA .. 4 = INTD, 0 = none.
    pub interrupt_pin: u8,
}

impl Function {
    /// Reads the identity of the function at `at`, or `None` when nothing answers there.
    pub fn read(cfg: &mut impl ConfigAccess, at: Address) -> Option<Function> {
        let id = cfg.read32(at, VENDOR_ID);
        let vendor = id as u16;
        if vendor == 0xffff || vendor == 0 {
            return None;
        }
        let class = cfg.read32(at, CLASS_REVISION);
        Some(Function {
            at,
            vendor,
            device: (id >> 16) as u16,
            class: class >> 8,
            revision: class as u8,
            header_type: cfg.read8(at, HEADER_TYPE) & 0x7f,
            interrupt_pin: cfg.read8(at, INTERRUPT_PIN),
        })
    }
}

/// Finds every function reachable from bus `root`, calling `found` for each: the devices of a
/// bus in order, then the buses behind each PCI-to-PCI bridge whose secondary bus number is set
/// and lies in `root..=last` (a bridge nobody configured leads nowhere). Function 0 of a device
/// tells whether functions 1 to 7 exist. Each bus is visited once, whatever the bridges claim.
pub fn scan(cfg: &mut impl ConfigAccess, root: u8, last: u8, mut found: impl FnMut(Function)) {
    let mut visited = [0u64; 4];
    let mut pending = [0u8; 256];
    let mut queued = 1;
    pending[0] = root;
    let mut next = 0;
    while next < queued {
        let bus = pending[next];
        next += 1;
        if visited[bus as usize / 64] & (1 << (bus % 64)) != 0 {
            continue;
        }
        visited[bus as usize / 64] |= 1 << (bus % 64);
        for device in 0..DEVICES {
            let zero = Address {
                bus,
                device,
                function: 0,
            };
            let Some(f0) = Function::read(cfg, zero) else {
                continue;
            };
            let functions = if cfg.read8(zero, HEADER_TYPE) & 0x80 != 0 {
                FUNCTIONS
            } else {
                1
            };
            for function in 0..functions {
                let at = Address {
                    bus,
                    device,
                    function,
                };
                let f = if function == 0 {
                    f0
                } else {
                    match Function::read(cfg, at) {
                        Some(f) => f,
                        None => continue,
                    }
                };
                if f.header_type == 1 {
                    let secondary = cfg.read8(at, BRIDGE_BUSES + 1);
                    if secondary > bus && secondary <= last && queued < pending.len() {
                        pending[queued] = secondary;
                        queued += 1;
                    }
                }
                found(f);
            }
        }
    }
}

/// One window of a host bridge's `ranges`: bus addresses `[bus, bus + size)` appear to the CPU at
/// `cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// What the window carries (decoded from the space code of the PCI address's first cell).
    pub kind: BarKind,
    /// Whether the window is marked prefetchable.
    pub prefetchable: bool,
    /// Its first bus address.
    pub bus: u64,
    /// The CPU physical address of `bus`.
    pub cpu: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// Why the host bridge's device-tree properties could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// A property's length is not a whole number of entries.
    Ragged {
        /// The property.
        property: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The entry size in bytes.
        entry: usize,
    },
    /// The parent's address cells are not 1 or 2, or the size cells not 1 or 2.
    Cells {
        /// The offending count.
        cells: u32,
    },
    /// `interrupt-map` names an interrupt parent the caller does not know.
    UnknownParent {
        /// Its phandle.
        phandle: u32,
    },
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Ragged {
                property,
                len,
                entry,
            } => write!(
                f,
                "PCI host bridge: `{property}` is {len} bytes, not a multiple of its {entry}-byte entries"
            ),
            Self::Cells { cells } => write!(
                f,
                "PCI host bridge: {cells} address or size cells are not supported (1 or 2)"
            ),
            Self::UnknownParent { phandle } => write!(
                f,
                "PCI host bridge: `interrupt-map` names an unknown interrupt parent (phandle {phandle:#x})"
            ),
        }
    }
}

fn cell(bytes: &[u8], index: usize) -> u32 {
    let b = &bytes[index * 4..index * 4 + 4];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn cells(bytes: &[u8], index: usize, count: usize) -> u64 {
    (0..count).fold(0, |acc, i| acc << 32 | cell(bytes, index + i) as u64)
}

/// Decodes a host bridge's `ranges` (3 PCI address cells, `parent_cells` CPU address cells,
/// 2 size cells), calling `window` for each memory or I/O window.
pub fn parse_ranges(
    ranges: &[u8],
    parent_cells: u32,
    mut window: impl FnMut(Window),
) -> Result<(), DtError> {
    if !(1..=2).contains(&parent_cells) {
        return Err(DtError::Cells {
            cells: parent_cells,
        });
    }
    let per = 3 + parent_cells as usize + 2;
    if !ranges.len().is_multiple_of(per * 4) {
        return Err(DtError::Ragged {
            property: "ranges",
            len: ranges.len(),
            entry: per * 4,
        });
    }
    for entry in ranges.chunks_exact(per * 4) {
        let hi = cell(entry, 0);
        let kind = match (hi >> 24) & 3 {
            1 => BarKind::Io,
            2 => BarKind::Memory32,
            3 => BarKind::Memory64,
            _ => continue,
        };
        window(Window {
            kind,
            prefetchable: hi & (1 << 30) != 0,
            bus: cells(entry, 1, 2),
            cpu: cells(entry, 3, parent_cells as usize),
            size: cells(entry, 3 + parent_cells as usize, 2),
        });
    }
    Ok(())
}

/// Hands out bus addresses from one window, each aligned to its size (as BARs require).
#[derive(Clone, Copy, Debug)]
pub struct WindowAllocator {
    window: Window,
    next: u64,
}

impl WindowAllocator {
    /// Starts handing out from the bottom of `window`.
    pub fn new(window: Window) -> WindowAllocator {
        WindowAllocator {
            window,
            next: window.bus,
        }
    }

    /// The window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// A bus address for `size` bytes (a power of two), or `None` when the window is full.
    pub fn allocate(&mut self, size: u64) -> Option<u64> {
        let size = size.max(if self.window.kind == BarKind::Io {
            4
        } else {
            16
        });
        let start = self.next.checked_add(size - 1)? & !(size - 1);
        let end = start.checked_add(size)?;
        if end > self.window.bus.checked_add(self.window.size)? {
            return None;
        }
        self.next = end;
        Some(start)
    }

    /// The CPU physical address of bus address `bus` in this window.
    pub fn to_cpu(&self, bus: u64) -> u64 {
        bus - self.window.bus + self.window.cpu
    }
}

/// The interrupt controller cells of an `interrupt-map` parent: its `#address-cells` and
/// `#interrupt-cells`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentCells {
    /// `#address-cells` of the parent (0 when it has none).
    pub address: u32,
    /// `#interrupt-cells` of the parent.
    pub interrupt: u32,
}

/// Routes a legacy interrupt (`pin` 1..=4 of the function at `at`) through the host bridge's
/// `interrupt-map` and `interrupt-map-mask` (3 PCI address cells and 1 interrupt cell per child
/// specifier). Returns the parent's interrupt specifier cells (at most 4), or `None` when no entry
/// matches. `parent` gives the cell counts of a parent by phandle.
pub fn route_interrupt(
    map: &[u8],
    mask: &[u8],
    at: Address,
    pin: u8,
    parent: impl Fn(u32) -> Option<ParentCells>,
) -> Result<Option<([u32; 4], usize)>, DtError> {
    if mask.len() != 16 {
        return Err(DtError::Ragged {
            property: "interrupt-map-mask",
            len: mask.len(),
            entry: 16,
        });
    }
    if !map.len().is_multiple_of(4) {
        return Err(DtError::Ragged {
            property: "interrupt-map",
            len: map.len(),
            entry: 4,
        });
    }
    let hi = (at.bus as u32) << 16 | (at.device as u32) << 11 | (at.function as u32) << 8;
    let child = [hi, 0, 0, pin as u32];
    let masked: [u32; 4] = core::array::from_fn(|i| child[i] & cell(mask, i));
    let words = map.len() / 4;
    let mut i = 0;
    while i + 5 <= words {
        let entry: [u32; 4] = core::array::from_fn(|k| cell(map, i + k));
        let phandle = cell(map, i + 4);
        let cells = parent(phandle).ok_or(DtError::UnknownParent { phandle })?;
        let spec_at = i + 5 + cells.address as usize;
        let next = spec_at + cells.interrupt as usize;
        if next > words || cells.interrupt as usize > 4 {
            return Err(DtError::Ragged {
                property: "interrupt-map",
                len: map.len(),
                entry: (next - i) * 4,
            });
        }
        if entry == masked {
            let mut spec = [0u32; 4];
            for (k, s) in spec.iter_mut().enumerate().take(cells.interrupt as usize) {
                *s = cell(map, spec_at + k);
            }
            return Ok(Some((spec, cells.interrupt as usize)));
        }
        i = next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A configuration space of a few functions with BARs that size like hardware.
    #[derive(Default)]
    struct Model {
        regs: BTreeMap<(Address, u16), u32>,
        /// Per (function, BAR register): the size mask's writable bits.
        bar_masks: BTreeMap<(Address, u16), u32>,
    }

    fn at(bus: u8, device: u8, function: u8) -> Address {
        Address {
            bus,
            device,
            function,
        }
    }

    impl Model {
        fn add(&mut self, a: Address, vendor: u16, device: u16, class: u32, multi: bool) {
            self.regs
                .insert((a, 0), (device as u32) << 16 | vendor as u32);
            self.regs.insert((a, 8), class << 8 | 1);
            self.regs
                .insert((a, 0xc), if multi { 0x80 << 16 } else { 0 });
            self.regs.insert((a, 0x3c), 1 << 8);
        }

        fn bar(&mut self, a: Address, index: u16, flags: u32, mask: u32) {
            self.regs.insert((a, BAR0 + 4 * index), flags);
            self.bar_masks.insert((a, BAR0 + 4 * index), mask);
        }
    }

    impl ConfigAccess for Model {
        fn read32(&mut self, a: Address, reg: u16) -> u32 {
            if !self.regs.contains_key(&(a, 0)) {
                return u32::MAX;
            }
            self.regs.get(&(a, reg)).copied().unwrap_or(0)
        }

        fn write32(&mut self, a: Address, reg: u16, value: u32) {
            let stored = match self.bar_masks.get(&(a, reg)) {
                Some(&mask) => {
                    let flags = self.regs.get(&(a, reg)).copied().unwrap_or(0) & 0xf;
                    value & mask | flags & !mask
                }
                // Unimplemented BARs are hard-wired to zero.
                None if (BAR0..BAR0 + 24).contains(&reg) => 0,
                None => value,
            };
            self.regs.insert((a, reg), stored);
        }
    }

    #[test]
    fn ecam_offsets_follow_the_bus_device_function_layout() {
        assert_eq!(ecam_offset(0, 0, 0, 0), 0);
        assert_eq!(ecam_offset(0, 2, 0, 0x10), 0x10010);
        assert_eq!(ecam_offset(1, 31, 7, 0xffc), 0x1ff_ffc);
        assert_eq!(format!("{}", at(0, 2, 1)), "00:02.1");
    }

    #[test]
    fn scan_finds_devices_and_the_functions_of_multi_function_devices() {
        let mut m = Model::default();
        m.add(at(0, 0, 0), 0x1b36, 0x0008, 0x060000, false);
        m.add(at(0, 2, 0), 0x1b36, 0x0007, 0x080501, true);
        m.add(at(0, 2, 3), 0x1234, 0x5678, 0x020000, false);
        // Function 1 of a single-function device is not looked at.
        m.add(at(0, 0, 1), 0xdead, 0xbeef, 0, false);
        let mut found = Vec::new();
        scan(&mut m, 0, 0, |f| found.push(f));
        let ids: Vec<_> = found.iter().map(|f| (f.at, f.vendor, f.device)).collect();
        assert_eq!(
            ids,
            [
                (at(0, 0, 0), 0x1b36, 0x0008),
                (at(0, 2, 0), 0x1b36, 0x0007),
                (at(0, 2, 3), 0x1234, 0x5678)
            ]
        );
        assert_eq!(found[1].class, 0x080501);
        assert_eq!(found[1].interrupt_pin, 1);
        assert_eq!(found[1].revision, 1);
    }

    #[test]
    fn scan_follows_configured_bridges_only() {
        let mut m = Model::default();
        m.add(at(0, 0, 0), 0x1b36, 0x0008, 0x060000, false);
        // A bridge to bus 1, one nobody configured, and one that claims bus 0 again.
        for (device, secondary) in [(1u8, 1u32), (2, 0), (3, 0)] {
            m.add(at(0, device, 0), 0x1b36, 0x000c, 0x060400, false);
            m.regs.insert((at(0, device, 0), 0xc), 1 << 16);
            m.regs
                .insert((at(0, device, 0), BRIDGE_BUSES), secondary << 8);
        }
        m.add(at(1, 0, 0), 0x1234, 0x0001, 0x010802, false);
        m.add(at(2, 0, 0), 0x1234, 0x0002, 0x010802, false);
        let mut found = Vec::new();
        scan(&mut m, 0, 255, |f| found.push((f.at, f.header_type)));
        assert_eq!(
            found,
            [
                (at(0, 0, 0), 0),
                (at(0, 1, 0), 1),
                (at(0, 2, 0), 1),
                (at(0, 3, 0), 1),
                (at(1, 0, 0), 0)
            ],
            "bus 2 hangs off no bridge and bus 0 is scanned once"
        );
        let mut found = 0;
        scan(&mut m, 0, 0, |_| found += 1);
        assert_eq!(found, 4, "bus 1 lies outside the bridge's bus range");
    }

    #[test]
    fn bars_are_sized_restored_and_assigned() {
        let mut m = Model::default();
        let a = at(0, 2, 0);
        m.add(a, 0x1b36, 0x0007, 0x080501, false);
        m.regs.insert((a, COMMAND), COMMAND_MEMORY as u32);
        m.bar(a, 0, 0x0, 0xffff_ff00); // 256 bytes of 32-bit memory
        m.bar(a, 1, 0x1, 0xffff_ffe0); // 32 I/O ports
        m.bar(a, 2, 0xc, 0xffff_c000); // 64-bit prefetchable, 16 KiB ...
        m.bar(a, 3, 0x0, 0xffff_ffff); // ... whose high half is all writable
        let bars = size_bars(&mut m, a);
        assert_eq!(
            bars[0],
            Some(Bar {
                index: 0,
                kind: BarKind::Memory32,
                prefetchable: false,
                size: 256,
                address: 0
            })
        );
        assert_eq!(bars[1].map(|b| (b.kind, b.size)), Some((BarKind::Io, 32)));
        assert_eq!(
            bars[2].map(|b| (b.kind, b.prefetchable, b.size)),
            Some((BarKind::Memory64, true, 16 << 10))
        );
        assert_eq!(bars[3], None, "the high half of a 64-bit BAR is not a BAR");
        assert_eq!(bars[4], None);
        // Sizing restored the registers and the command word.
        assert_eq!(m.read32(a, BAR0), 0);
        assert_eq!(m.read16(a, COMMAND), COMMAND_MEMORY);
        write_bar(&mut m, a, &bars[0].unwrap(), 0x1000_0100);
        assert_eq!(m.read32(a, BAR0), 0x1000_0100);
        write_bar(&mut m, a, &bars[2].unwrap(), 0x80_0000_4000);
        assert_eq!(m.read32(a, BAR0 + 8), 0x4000 | 0xc);
        assert_eq!(m.read32(a, BAR0 + 12), 0x80);
        let again = size_bars(&mut m, a);
        assert_eq!(again[2].map(|b| b.address), Some(0x80_0000_4000));
    }

    #[test]
    fn sub_word_writes_keep_their_neighbours_and_spare_the_status_register() {
        let mut m = Model::default();
        let a = at(0, 1, 0);
        m.add(a, 1, 2, 3, false);
        m.regs.insert((a, COMMAND), 0xffff_0000);
        m.write16(a, COMMAND, COMMAND_MEMORY | COMMAND_BUS_MASTER);
        assert_eq!(
            m.read32(a, COMMAND),
            0x6,
            "status bits must be written as zeros"
        );
        m.regs.insert((a, 0x3c), 0x0000_01ff);
        m.write16(a, 0x3e, 0xabcd);
        assert_eq!(m.read32(a, 0x3c), 0xabcd_01ff);
    }

    fn be(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn ranges_of_the_virt_host_bridge_decode() {
        // QEMU virt: I/O at 0x3eff0000, 32-bit memory at 0x10000000, 64-bit at 0x80_0000_0000.
        let ranges = be(&[
            0x0100_0000,
            0,
            0,
            0,
            0x3eff_0000,
            0,
            0x1_0000, //
            0x0200_0000,
            0,
            0x1000_0000,
            0,
            0x1000_0000,
            0,
            0x2eff_0000, //
            0x4300_0000,
            0x80,
            0,
            0x80,
            0,
            0x80,
            0,
        ]);
        let mut windows = Vec::new();
        parse_ranges(&ranges, 2, |w| windows.push(w)).unwrap();
        assert_eq!(windows.len(), 3);
        assert_eq!(
            windows[1],
            Window {
                kind: BarKind::Memory32,
                prefetchable: false,
                bus: 0x1000_0000,
                cpu: 0x1000_0000,
                size: 0x2eff_0000
            }
        );
        assert_eq!(windows[2].kind, BarKind::Memory64);
        assert!(windows[2].prefetchable);
        assert_eq!(windows[2].cpu, 0x80_0000_0000);
        assert_eq!(windows[0].kind, BarKind::Io);
        assert!(matches!(
            parse_ranges(&ranges[..20], 2, |_| {}),
            Err(DtError::Ragged { .. })
        ));
        assert!(matches!(
            parse_ranges(&ranges, 3, |_| {}),
            Err(DtError::Cells { cells: 3 })
        ));
    }

    #[test]
    fn window_allocations_are_aligned_to_their_size_and_bounded() {
        let mut w = WindowAllocator::new(Window {
            kind: BarKind::Memory32,
            prefetchable: false,
            bus: 0x1000_0000,
            cpu: 0x4000_0000,
            size: 0x1_0000,
        });
        assert_eq!(w.allocate(0x100), Some(0x1000_0000));
        assert_eq!(w.allocate(0x1000), Some(0x1000_1000));
        assert_eq!(
            w.allocate(4),
            Some(0x1000_2000),
            "memory BARs take at least 16 bytes"
        );
        assert_eq!(w.allocate(0x8000), Some(0x1000_8000));
        assert_eq!(w.allocate(0x8000), None, "the window is full");
        assert_eq!(w.to_cpu(0x1000_0100), 0x4000_0100);
    }

    /// QEMU virt's `interrupt-map`: 4 slots x 4 pins, GIC parent with 2 address and 3 interrupt
    /// cells, swizzled onto SPIs 3 to 6.
    fn virt_interrupt_map() -> (Vec<u8>, Vec<u8>) {
        let mut words = Vec::new();
        for slot in 0..4u32 {
            for pin in 1..=4u32 {
                let spi = 3 + (slot + pin - 1) % 4;
                words.extend_from_slice(&[slot << 11, 0, 0, pin, 0x8001, 0, 0, 0, spi, 4]);
            }
        }
        (be(&words), be(&[0x1800, 0, 0, 7]))
    }

    #[test]
    fn legacy_interrupts_route_through_the_map_with_the_swizzle() {
        let (map, mask) = virt_interrupt_map();
        let gic = |p: u32| {
            (p == 0x8001).then_some(ParentCells {
                address: 2,
                interrupt: 3,
            })
        };
        // Slot 2, INTA: SPI 3 + (2 + 1 - 1) % 4 = 5. Slot 6 masks to slot 2.
        for device in [2, 6] {
            let (spec, n) = route_interrupt(&map, &mask, at(0, device, 0), 1, gic)
                .unwrap()
                .unwrap();
            assert_eq!((n, spec[..3].to_vec()), (3, vec![0, 5, 4]));
        }
        let (spec, _) = route_interrupt(&map, &mask, at(0, 1, 0), 4, gic)
            .unwrap()
            .unwrap();
        // Slot 1, INTD: SPI 3 + (1 + 4 - 1) % 4 = 3.
        assert_eq!(spec[1], 3);
        assert_eq!(
            route_interrupt(&map, &mask, at(0, 1, 0), 0, gic).unwrap(),
            None,
            "pin 0 means no interrupt"
        );
        assert_eq!(
            route_interrupt(&map, &mask, at(0, 1, 0), 1, |_| None),
            Err(DtError::UnknownParent { phandle: 0x8001 })
        );
        assert!(route_interrupt(&map[..map.len() - 4], &mask, at(0, 3, 0), 4, gic).is_err());
        assert!(route_interrupt(&map, &mask[..12], at(0, 3, 0), 4, gic).is_err());
    }
}
