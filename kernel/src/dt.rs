//! The device tree: where the board says what it has.
//!
//! Wraps the `fdt` crate with what the kernel asks: the model, memory, reserved memory, `/chosen`,
//! and devices found by `compatible` with their register ranges translated through every parent
//! bus's `ranges` into CPU physical addresses (the Pi 4's `/soc` maps bus 0x7e000000 to
//! 0xfe000000), and their interrupts as GIC interrupt IDs.

use fdt::node::FdtNode;
use fdt::Fdt;
use keel_core::dtaddr;
use spin::Once;

/// Deepest node nesting searched.
const MAX_DEPTH: usize = 12;
/// Most `reg` entries or interrupts reported per device.
pub const MAX_ITEMS: usize = 8;

static TREE: Once<Fdt<'static>> = Once::new();

/// Why the device tree could not be used.
#[derive(Debug)]
pub enum DtError {
    /// The boot code found no device tree at the address in x0.
    Missing {
        /// The address the firmware passed.
        address: u64,
    },
    /// The blob did not parse.
    Invalid(fdt::FdtError),
}

impl core::fmt::Display for DtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DtError::Missing { address } => write!(
                f,
                "no flattened device tree at x0 = {address:#x} (bad magic); boot with -dtb or a firmware that passes one"
            ),
            DtError::Invalid(e) => write!(f, "the device tree does not parse: {e:?}"),
        }
    }
}

/// Parses the tree the boot code mapped and keeps it for the kernel's lifetime. `FDT_NOP` tokens
/// (left where firmware deleted nodes) are removed first, in place.
///
/// # Safety
/// `blob` must point at `len` mapped, writable bytes that nothing else uses and that stay mapped
/// for the kernel's lifetime.
pub unsafe fn init(blob: *mut u8, len: usize, phys: u64) -> Result<&'static Fdt<'static>, DtError> {
    if len == 0 {
        return Err(DtError::Missing { address: phys });
    }
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { core::slice::from_raw_parts_mut(blob, len) };
    match keel_core::fdtnop::strip_nops(bytes) {
        Ok(0) => {}
        Ok(n) => log::info!(target: "dt", "removed {n} NOP tokens (nodes deleted by firmware)"),
        Err(e) => log::warn!(target: "dt", "cannot compact the device tree: {e}"),
    }
    let bytes: &'static [u8] = bytes;
    let tree = Fdt::new(bytes).map_err(DtError::Invalid)?;
    Ok(TREE.call_once(|| tree))
}

/// The parsed device tree, once [`init`] succeeded.
pub fn tree() -> Option<&'static Fdt<'static>> {
    TREE.get()
}

/// The board's model string (`/model`).
pub fn model() -> &'static str {
    tree().map(|t| t.root().model()).unwrap_or("unknown board")
}

/// The kernel command line (`/chosen/bootargs`).
pub fn bootargs() -> &'static str {
    tree().and_then(|t| t.chosen().bootargs()).unwrap_or("")
}

/// A device node with its resources in CPU terms.
#[derive(Clone, Copy)]
pub struct Device {
    /// The node.
    pub node: FdtNode<'static, 'static>,
    regs: [(u64, u64); MAX_ITEMS],
    nregs: usize,
    irqs: [u32; MAX_ITEMS],
    nirqs: usize,
}

impl Device {
    /// Register ranges as (CPU physical address, size).
    pub fn regs(&self) -> &[(u64, u64)] {
        &self.regs[..self.nregs]
    }

    /// Interrupts as GIC interrupt IDs (SPI n -> 32 + n, PPI n -> 16 + n).
    pub fn irqs(&self) -> &[u32] {
        &self.irqs[..self.nirqs]
    }

    /// Resolves a node found by [`walk`] (`chain` is its ancestors, root first).
    pub fn of(node: FdtNode<'static, 'static>, chain: &[FdtNode<'static, 'static>]) -> Device {
        resolve(node, chain)
    }

    /// Whether `status` is absent or "okay".
    pub fn enabled(&self) -> bool {
        self.node
            .property("status")
            .and_then(|p| p.as_str())
            .is_none_or(|s| s == "okay" || s == "ok")
    }
}

fn is_compatible(node: &FdtNode<'static, 'static>, with: &[&str]) -> bool {
    node.compatible()
        .is_some_and(|c| c.all().any(|s| with.contains(&s)))
}

/// Reads a node's `reg` (with its parent's cell sizes) and translates each address to the CPU's view.
fn resolve(node: FdtNode<'static, 'static>, chain: &[FdtNode<'static, 'static>]) -> Device {
    let mut dev = Device {
        node,
        regs: [(0, 0); MAX_ITEMS],
        nregs: 0,
        irqs: [0; MAX_ITEMS],
        nirqs: 0,
    };
    if let (Some(parent), Some(reg)) = (chain.last(), node.property("reg")) {
        let cells = parent.cell_sizes();
        let mut rest = reg.value;
        while dev.nregs < MAX_ITEMS {
            let Some((addr, r)) = dtaddr::read_cells(rest, cells.address_cells) else {
                break;
            };
            let Some((size, r)) = dtaddr::read_cells(r, cells.size_cells) else {
                break;
            };
            rest = r;
            if let Some(cpu) = translate_up(addr, chain) {
                dev.regs[dev.nregs] = (cpu, size);
                dev.nregs += 1;
            }
        }
    }
    if let Some(ints) = node.property("interrupts") {
        // The GIC binding: three cells (type, number, flags); type 0 = SPI, 1 = PPI.
        for triple in ints.value.chunks_exact(12).take(MAX_ITEMS) {
            let word = |i: usize| {
                u32::from_be_bytes([triple[i], triple[i + 1], triple[i + 2], triple[i + 3]])
            };
            let base = if word(0) == 1 { 16 } else { 32 };
            dev.irqs[dev.nirqs] = base + word(4);
            dev.nirqs += 1;
        }
    }
    dev
}

/// Translates a bus address through each ancestor bus's `ranges`, innermost first.
fn translate_up(mut addr: u64, chain: &[FdtNode<'static, 'static>]) -> Option<u64> {
    for i in (1..chain.len()).rev() {
        let bus = chain[i];
        let up = chain[i - 1];
        let ranges = bus.property("ranges").map(|p| p.value);
        addr = dtaddr::translate(
            addr,
            ranges,
            bus.cell_sizes().address_cells,
            up.cell_sizes().address_cells,
            bus.cell_sizes().size_cells,
        )
        .ok()?;
    }
    Some(addr)
}

fn visit(
    node: FdtNode<'static, 'static>,
    chain: &mut [Option<FdtNode<'static, 'static>>; MAX_DEPTH],
    depth: usize,
    f: &mut dyn FnMut(FdtNode<'static, 'static>, &[FdtNode<'static, 'static>]) -> bool,
) -> bool {
    let mut ancestors = [node; MAX_DEPTH];
    for (slot, n) in ancestors.iter_mut().zip(chain.iter().take(depth)) {
        if let Some(n) = n {
            *slot = *n;
        }
    }
    if f(node, &ancestors[..depth]) {
        return true;
    }
    if depth + 1 >= MAX_DEPTH {
        return false;
    }
    chain[depth] = Some(node);
    for child in node.children() {
        if visit(child, chain, depth + 1, f) {
            return true;
        }
    }
    false
}

/// Calls `f` on every node with its ancestors (root first) until `f` returns true.
pub fn walk(mut f: impl FnMut(FdtNode<'static, 'static>, &[FdtNode<'static, 'static>]) -> bool) {
    let Some(tree) = tree() else { return };
    let Some(root) = tree.find_node("/") else {
        return;
    };
    let mut chain = [None; MAX_DEPTH];
    visit(root, &mut chain, 0, &mut f);
}

/// The first enabled device compatible with any of `with`.
pub fn find_compatible(with: &[&str]) -> Option<Device> {
    let mut found = None;
    walk(|node, chain| {
        if is_compatible(&node, with) {
            let dev = resolve(node, chain);
            if dev.enabled() {
                found = Some(dev);
                return true;
            }
        }
        false
    });
    found
}

/// The device at `path` (a node path or an alias), resolved.
pub fn find_path(path: &str) -> Option<Device> {
    let tree = tree()?;
    let target = tree
        .find_node(path)
        .or_else(|| tree.aliases()?.resolve_node(path))?;
    let mut found = None;
    walk(|node, chain| {
        if core::ptr::eq(node.name, target.name) {
            found = Some(resolve(node, chain));
            return true;
        }
        false
    });
    found
}

/// The device `/chosen/stdout-path` names (options after ':' dropped).
pub fn stdout() -> Option<Device> {
    let chosen = tree()?.find_node("/chosen")?;
    let path = chosen.property("stdout-path").and_then(|p| p.as_str())?;
    find_path(path.split(':').next().unwrap_or(path))
}

/// The initramfs range from `/chosen` (`linux,initrd-start`/`-end`), if any.
pub fn initrd() -> Option<(u64, u64)> {
    let chosen = tree()?.find_node("/chosen")?;
    let start = chosen.property("linux,initrd-start")?.as_usize()? as u64;
    let end = chosen.property("linux,initrd-end")?.as_usize()? as u64;
    (end > start).then_some((start, end))
}
