//! Loadable kernel modules: the module table and the lifecycle of a module.
//!
//! ```text
//!  insmod ──► loader::load ──► LOADING ──init ok──► LIVE ──rmmod──► UNLOADING ──exit──► (gone)
//!                 │                │ init error: undone, gone          │ exit faults
//!                 │ any check      │ init faults/panics                 ▼
//!                 ▼ fails: undone  └──────────────────────────────►  FAILED ──rmmod──► (gone)
//! ```
//!
//! - [`loader`]: checks a `.ko`, places it in the module region ([`region`]), links it, sets its
//!   parameters and runs `init`.
//! - [`exports`]: the kernel's export table and what each export does, including the per-module
//!   accounting of heap allocations, MMIO mappings and IRQ handlers released on unload or failure.
//! - [`contain`]: the one entry path into module code, which turns a fault or panic inside a
//!   module into an error for the caller.
//! - [`boot`]: the modules `/etc/modules` and the device tree's `compatible` strings call for.
//! - [`syscall`]: `init_module`, `delete_module`, `module_list`.
//!
//! A module that depends on another pins it: the provider lists it among its users and cannot be
//! removed before it. Loads and unloads are serialised by one lock; the table itself has its own
//! short-held lock, never held while module code runs.

pub mod boot;
pub mod contain;
pub mod exports;
pub mod loader;
pub mod region;
pub mod syscall;
#[cfg(feature = "qemu-test")]
pub mod tests;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{module_state, ModuleInfo, MODULE_NAME_MAX};
use keel_abi::Errno;
use keel_core::modindex::same_name;
use keel_core::symbols::Demangled;

use crate::sync::IrqMutex;
use region::ModuleMemory;

/// Identifies one loaded module; it is also the [`keel_abi::module::ModuleHandle`] the module
/// gets. Ids are never reused.
pub type ModuleId = u64;

/// Where a module is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Linked; `init` is running.
    Loading,
    /// `init` succeeded.
    Live,
    /// `exit` is running.
    Unloading,
    /// It faulted or panicked: its IRQ handlers are gone, its memory stays until `rmmod`.
    Failed,
}

impl State {
    fn abi(self) -> u32 {
        match self {
            State::Loading => module_state::LOADING,
            State::Live => module_state::LIVE,
            State::Unloading => module_state::UNLOADING,
            State::Failed => module_state::FAILED,
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::Loading => "loading",
            State::Live => "live",
            State::Unloading => "unloading",
            State::Failed => "failed",
        }
    }
}

/// A function a module exports to other modules.
#[derive(Clone, Debug)]
pub struct Export {
    /// Its symbol name.
    pub name: String,
    /// Its signature hash (from the module's `.keel.exports`).
    pub hash: u32,
    /// Its address.
    pub address: u64,
}

/// A module's functions, sorted by address, with a copy of the object's string table their
/// names index (names as the object has them: demangled only when a report shows them, and
/// found only then).
#[derive(Debug, Default)]
struct Functions {
    list: Vec<keel_modload::Function>,
    names: Box<[u8]>,
}

impl Functions {
    /// Copies the linked module's function list (sorted by address) and its string table, in two
    /// allocations.
    fn new(linked: &keel_modload::Linked<'_>) -> Functions {
        Functions {
            list: linked.functions().to_vec(),
            names: linked.string_table().into(),
        }
    }

    /// The function containing `addr` and the offset of `addr` within it: the function with
    /// the highest start not above `addr`, if `addr` lies inside its size (or, for a function
    /// of unknown size 0, anywhere before the next function).
    fn at(&self, addr: u64) -> Option<(&str, u64)> {
        let index = self.list.partition_point(|func| func.va <= addr);
        let func = self.list.get(index.checked_sub(1)?)?;
        let inside = if func.size == 0 {
            self.list.get(index).is_none_or(|next| addr < next.va)
        } else {
            addr - func.va < func.size
        };
        // The loader checked every name: NUL-terminated UTF-8.
        let name = self
            .names
            .get(func.name as usize..)
            .and_then(|rest| rest.split(|&b| b == 0).next())
            .and_then(|name| core::str::from_utf8(name).ok())
            .unwrap_or("");
        inside.then_some((name, addr - func.va))
    }
}

/// One entry of the module table.
pub struct Module {
    /// Its id (and handle).
    pub id: ModuleId,
    /// Its name, from `.modinfo`.
    pub name: String,
    /// Its state.
    pub state: State,
    memory: ModuleMemory,
    functions: Functions,
    exports: Vec<Export>,
    /// The modules it depends on (and pins).
    depends: Vec<ModuleId>,
    /// The device-tree `compatible` strings it declares.
    compatible: Vec<String>,
    /// The PCI `(vendor, device)` ids it declares.
    pci: Vec<(u16, u16)>,
    /// The PCI classes it declares.
    pci_classes: Vec<u32>,
    /// Its `exit` function.
    exit: usize,
    /// Copies of its `str` parameters, which it may read until it is unloaded.
    _strings: Vec<Box<str>>,
}

static TABLE: IrqMutex<Vec<Module>> = IrqMutex::new(Vec::new());
/// Serialises loads and unloads (held while `init` or `exit` runs, never by module code).
static OPS: spin::Mutex<()> = spin::Mutex::new(());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> ModuleId {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The id and state of the module called `name` (`-` and `_` alike).
pub fn find(name: &str) -> Option<(ModuleId, State)> {
    TABLE
        .lock()
        .iter()
        .find(|m| same_name(&m.name, name))
        .map(|m| (m.id, m.state))
}

/// The state of module `id`, if it is in the table.
pub fn state_of(id: ModuleId) -> Option<State> {
    TABLE.lock().iter().find(|m| m.id == id).map(|m| m.state)
}

/// The loaded module exporting `symbol`: its id, name and the export.
pub fn find_export(symbol: &str) -> Option<(ModuleId, String, Export)> {
    TABLE.lock().iter().find_map(|m| {
        m.exports
            .iter()
            .find(|e| e.name == symbol)
            .map(|e| (m.id, m.name.clone(), e.clone()))
    })
}

/// The device-tree `compatible` strings module `id` declares.
pub fn compatible_of(id: ModuleId) -> Vec<String> {
    TABLE
        .lock()
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.compatible.clone())
        .unwrap_or_default()
}

/// The PCI `(vendor, device)` ids and classes module `id` declares.
pub fn pci_ids_of(id: ModuleId) -> (Vec<(u16, u16)>, Vec<u32>) {
    TABLE
        .lock()
        .iter()
        .find(|m| m.id == id)
        .map(|m| (m.pci.clone(), m.pci_classes.clone()))
        .unwrap_or_default()
}

/// Whether `addr` lies in the text of module `id` (a function it hands the kernel).
pub fn in_text_of(id: ModuleId, addr: u64) -> bool {
    TABLE
        .lock()
        .iter()
        .any(|m| m.id == id && m.memory.in_text(addr))
}

/// Calls `f` with the name of module `id`, if it is in the table. Allocates nothing (usable in
/// exception context).
pub fn with_name<R>(id: ModuleId, f: impl FnOnce(&str) -> R) -> Option<R> {
    let table = TABLE.lock();
    table.iter().find(|m| m.id == id).map(|m| f(&m.name))
}

/// Where a code address lies in a module: `faulty::null_load+0x14`, or `faulty+0x1234` (offset
/// in its text) when no function covers it.
pub struct Place<'a> {
    module: &'a str,
    function: Option<(&'a str, u64)>,
    text_offset: u64,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.function {
            Some((name, offset)) => write!(f, "{}+{offset:#x}", Demangled(name)),
            None => write!(f, "{}+{:#x}", self.module, self.text_offset),
        }
    }
}

/// Calls `f(module name, place)` if `addr` lies in the text of a loaded module. Allocates
/// nothing (usable in exception context).
pub fn with_module_at<R>(addr: u64, f: impl FnOnce(&str, Place<'_>) -> R) -> Option<R> {
    let table = TABLE.lock();
    let m = table.iter().find(|m| m.memory.in_text(addr))?;
    let function = m.functions.at(addr);
    let place = Place {
        module: &m.name,
        function,
        text_offset: addr - m.memory.ranges()[0].0,
    };
    Some(f(&m.name, place))
}

/// Puts a linked module into the table (state [`State::Loading`]).
fn insert(module: Module) {
    TABLE.lock().push(module);
}

fn set_state(id: ModuleId, state: State) {
    if let Some(m) = TABLE.lock().iter_mut().find(|m| m.id == id) {
        m.state = state;
    }
}

/// Takes module `id` out of the table and frees it: its leftover IRQ handlers, MMIO mappings and
/// heap allocations (reported), its pins on other modules, its pages and address space.
fn teardown(id: ModuleId) {
    exports::release_hardware(id);
    crate::console::module_gone(id);
    crate::dev::release_module(id);
    let module = {
        let mut table = TABLE.lock();
        let Some(index) = table.iter().position(|m| m.id == id) else {
            return;
        };
        let module = table.remove(index);
        if table.is_empty() {
            // Give the buffer back, so an idle module system holds no heap.
            *table = Vec::new();
        }
        module
    };
    let (count, bytes) = exports::release_allocations(id);
    if count > 0 {
        log::warn!(target: "module", "{} left {count} heap allocation(s) ({bytes} bytes) behind: freed", module.name);
    }
    // Dropping the module unmaps and frees its pages and its parameter strings.
    drop(module);
}

/// Marks module `id` failed after a fault or panic in its code: removes its IRQ handlers (masking
/// lines nobody else uses) and forgets its MMIO mappings. Its memory stays until `rmmod`.
pub fn fail(id: ModuleId, failure: contain::Failure) {
    set_state(id, State::Failed);
    exports::release_hardware(id);
    crate::console::module_gone(id);
    crate::dev::module_failed(id);
    with_name(id, |name| {
        let what = match failure {
            contain::Failure::Fault => "faulted",
            contain::Failure::Panic => "panicked",
        };
        log::error!(target: "module", "{name} {what} and is marked failed: its interrupt handlers are removed; `rmmod {name}` frees it");
    });
}

/// Why a module could not be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnloadError {
    /// No module of that name is loaded.
    NotLoaded(String),
    /// Other modules depend on it.
    InUse {
        /// The module.
        name: String,
        /// Its users, comma-separated.
        users: String,
    },
    /// It is being loaded or unloaded right now.
    Busy {
        /// The module.
        name: String,
        /// Its state.
        state: State,
    },
    /// Its `exit` faulted or panicked; it is now marked failed.
    ExitFailed {
        /// The module.
        name: String,
    },
}

impl UnloadError {
    /// The error number the system call returns.
    pub fn errno(&self) -> Errno {
        match self {
            UnloadError::NotLoaded(_) => Errno::ENOENT,
            UnloadError::InUse { .. } | UnloadError::Busy { .. } => Errno::EBUSY,
            UnloadError::ExitFailed { .. } => Errno::EMODFAILED,
        }
    }
}

impl fmt::Display for UnloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnloadError::NotLoaded(name) => write!(f, "{name}: not loaded"),
            UnloadError::InUse { name, users } => write!(f, "{name} is in use by {users}"),
            UnloadError::Busy { name, state } => {
                write!(f, "{name} is {}; try again when that is done", state.name())
            }
            UnloadError::ExitFailed { name } => write!(
                f,
                "{name}: exit failed; the module is marked failed, `rmmod {name}` again frees it"
            ),
        }
    }
}

/// The names of the modules that depend on `id`, comma-separated.
fn users_of(table: &[Module], id: ModuleId) -> String {
    let mut users = String::new();
    for m in table.iter().filter(|m| m.depends.contains(&id)) {
        if !users.is_empty() {
            users.push(',');
        }
        users.push_str(&m.name);
    }
    users
}

/// Removes the module called `name`: refuses while other modules use it, runs its `exit` (unless
/// it failed) contained, then frees everything it holds.
pub fn remove(name: &str) -> Result<(), UnloadError> {
    let started = crate::time::uptime_nanos();
    // Written blocks reach the module's block devices first, while sleeping is allowed (not
    // under `OPS`, a spin lock).
    let target = TABLE
        .lock()
        .iter()
        .find(|m| same_name(&m.name, name))
        .map(|m| m.id);
    if let Some(id) = target {
        crate::dev::block::flush_module(id);
    }
    let _op = OPS.lock();
    let (id, name, state, exit) = {
        let table = TABLE.lock();
        let m = table
            .iter()
            .find(|m| same_name(&m.name, name))
            .ok_or_else(|| UnloadError::NotLoaded(String::from(name)))?;
        let users = users_of(&table, m.id);
        if !users.is_empty() {
            return Err(UnloadError::InUse {
                name: m.name.clone(),
                users,
            });
        }
        (m.id, m.name.clone(), m.state, m.exit)
    };
    if let State::Loading | State::Unloading = state {
        return Err(UnloadError::Busy { name, state });
    }
    // Open devices pin the module; from here on its devices take no new opens.
    crate::dev::begin_unload(id).map_err(|users| UnloadError::InUse {
        name: name.clone(),
        users,
    })?;
    if state == State::Live {
        set_state(id, State::Unloading);
        if let Err(failure) = contain::call(id, exit, 0) {
            fail(id, failure);
            return Err(UnloadError::ExitFailed { name });
        }
    }
    teardown(id);
    let micros = (crate::time::uptime_nanos() - started) / 1000;
    log::info!(target: "module", "removed {name} in {micros} us");
    Ok(())
}

/// The module table as the `module_list` system call reports it.
pub fn list() -> Vec<ModuleInfo> {
    // Device opens first: the device registry is never locked inside the table's lock.
    let ids: Vec<ModuleId> = TABLE.lock().iter().map(|m| m.id).collect();
    let opens: Vec<(u32, String)> = ids.iter().map(|&id| crate::dev::opens_of(id)).collect();
    let table = TABLE.lock();
    table
        .iter()
        .map(|m| {
            let mut info = ModuleInfo::default();
            let name = m.name.as_bytes();
            let n = name.len().min(MODULE_NAME_MAX);
            info.name[..n].copy_from_slice(&name[..n]);
            info.name_len = n as u32;
            let mut users = users_of(&table, m.id);
            let device_opens = ids
                .iter()
                .position(|&id| id == m.id)
                .map_or((0, String::new()), |i| opens[i].clone());
            if !device_opens.1.is_empty() {
                if !users.is_empty() {
                    users.push(',');
                }
                users.push_str(&device_opens.1);
            }
            let u = users.len().min(info.used_by.len());
            info.used_by[..u].copy_from_slice(&users.as_bytes()[..u]);
            info.used_by_len = u as u32;
            info.refcount =
                table.iter().filter(|o| o.depends.contains(&m.id)).count() as u32 + device_opens.0;
            info.size = m.memory.size();
            info.state = m.state.abi();
            info
        })
        .collect()
}

/// Number of modules in the table.
pub fn count() -> usize {
    TABLE.lock().len()
}
