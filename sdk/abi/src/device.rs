//! The device model's shared definitions: the operation table of each device class, the
//! resources of a platform device, and the ioctls of `/dev/gpiochipN`.
//!
//! A driver module registers a device with `keel_device_register(module, class, name, ops,
//! context, id)`, where `ops` points at the class's table ([`TtyOps`], [`GpioOps`],
//! [`BlockOps`]). Every table starts with an [`OpsHeader`] naming its class, its version and its
//! size; the kernel refuses a table whose class differs, whose version it does not know, or that
//! is shorter than the version's table. The kernel calls each operation with the driver's
//! `context` through its containment entry (at most four integer or pointer arguments), so a
//! fault in an operation fails the module and its device's users get `EIO`.
//!
//! Operations never block: the kernel does the waiting. A GPIO event reaches the kernel through
//! `keel_gpio_event`, received tty bytes through `keel_tty_receive`; both are callable from an
//! interrupt handler. A block transfer that takes interrupts is started by [`BlockOps::read`] or
//! [`BlockOps::write`], which answer `-EINPROGRESS`; the driver's interrupt handler ends it with
//! `keel_block_complete`, and the kernel sleeps (in the calling thread, which holds the device's
//! block lock, so there is one transfer per device at a time) until then or until its deadline,
//! when it calls [`BlockOps::abort`].

use core::ffi::c_void;

use crate::types::Termios;
use crate::Errno;

/// Every operation table starts with this header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpsHeader {
    /// The `device_class` of the table.
    pub class: u32,
    /// The table's version (`TTY_OPS_VERSION`, ...).
    pub version: u32,
    /// `size_of` the whole table on the driver's side.
    pub size: u32,
    /// What the driver supports beyond the version's operations, class-specific bits (GPIO:
    /// [`GPIO_FEATURE_LEVEL_EVENTS`]); 0 for none. The field was reserved (0) before any bit
    /// existed, so older drivers declare nothing.
    pub features: u32,
}

/// Called when a device is opened (`context`); 0 or `-errno` (the open fails with it).
pub type OpenFn = unsafe extern "C" fn(context: *mut c_void) -> i32;
/// Called when the last descriptor of an open device is closed.
pub type CloseFn = unsafe extern "C" fn(context: *mut c_void);

/// Version of [`TtyOps`].
pub const TTY_OPS_VERSION: u32 = 2;
/// Version of [`GpioOps`].
pub const GPIO_OPS_VERSION: u32 = 1;
/// Version of [`BlockOps`]. Version 2 added [`BlockOps::abort`] and transfers that end by
/// interrupt (`-EINPROGRESS` and `keel_block_complete`).
pub const BLOCK_OPS_VERSION: u32 = 2;
/// How long the kernel waits for a started block transfer, in milliseconds, before it calls
/// [`BlockOps::abort`] and reports `ETIMEDOUT`.
pub const BLOCK_TRANSFER_TIMEOUT_MS: u64 = 2000;

/// The operations of a serial terminal (`device_class::TTY`). Received bytes are pushed to the
/// kernel with `keel_tty_receive`; the kernel buffers them for `read`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtyOps {
    /// `class: TTY`, `version: TTY_OPS_VERSION`.
    pub header: OpsHeader,
    /// See [`OpenFn`].
    pub open: OpenFn,
    /// See [`CloseFn`].
    pub close: CloseFn,
    /// Queues up to `len` bytes at `buf` for sending; returns how many it took (0 when the
    /// transmitter is full) or `-errno`. A console device's `write` is also called in interrupt
    /// context with interrupts masked, and must not log.
    pub write: unsafe extern "C" fn(context: *mut c_void, buf: *const u8, len: usize) -> isize,
    /// Fills `*termios` with the line settings (baud rate, data bits, stop bits, parity; the
    /// driver leaves `lflags` 0). 0 or `-errno`.
    pub get_line: unsafe extern "C" fn(context: *mut c_void, termios: *mut Termios) -> i32,
    /// Applies the line settings of `*termios` (the kernel checked them with
    /// [`Termios::check`]; `lflags` is the kernel's). 0, `-EINVAL` (a rate the hardware cannot
    /// make) or `-errno`.
    pub set_line: unsafe extern "C" fn(context: *mut c_void, termios: *const Termios) -> i32,
    /// Sends everything queued before returning, by polling the hardware (interrupts may be
    /// masked): the kernel calls it when the queue is full in a context that cannot wait and
    /// when the device stops being the console. Must not log. 0 or `-errno`.
    pub flush: unsafe extern "C" fn(context: *mut c_void) -> i32,
}

/// The operations of a GPIO controller (`device_class::GPIO`). The kernel checks every line
/// number against `lines` before it calls the others.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GpioOps {
    /// `class: GPIO`, `version: GPIO_OPS_VERSION`.
    pub header: OpsHeader,
    /// See [`OpenFn`].
    pub open: OpenFn,
    /// See [`CloseFn`].
    pub close: CloseFn,
    /// The number of lines (`0..lines`), or `-errno`.
    pub lines: unsafe extern "C" fn(context: *mut c_void) -> i32,
    /// Makes `line` an input ([`GPIO_INPUT`]) or an output ([`GPIO_OUTPUT`]) driving `value`
    /// first. 0 or `-errno`.
    pub direction:
        unsafe extern "C" fn(context: *mut c_void, line: u32, direction: u32, value: u32) -> i32,
    /// The level of `line` (0 or 1), or `-errno`.
    pub get: unsafe extern "C" fn(context: *mut c_void, line: u32) -> i32,
    /// Drives output `line` to `value` (0 or 1). 0 or `-errno`.
    pub set: unsafe extern "C" fn(context: *mut c_void, line: u32, value: u32) -> i32,
    /// Sets the bias of `line` ([`GPIO_PULL_NONE`], `_UP`, `_DOWN`); `-EINVAL` if the
    /// controller has none. 0 or `-errno`.
    pub pull: unsafe extern "C" fn(context: *mut c_void, line: u32, pull: u32) -> i32,
    /// Sets what raises events on `line`: 0 turns them off; a non-empty subset of
    /// [`GPIO_EDGE_BOTH`] enables edge interrupts; [`GPIO_LEVEL_HIGH`] or [`GPIO_LEVEL_LOW`]
    /// alone enables level detection (only for a driver whose header declares
    /// [`GPIO_FEATURE_LEVEL_EVENTS`]; the kernel never passes level flags to others, and never
    /// mixes edges and levels). Each call replaces the previous setting. The driver reports each
    /// event with `keel_gpio_event`; a level event also disables the line's level detection in
    /// the interrupt handler (the line may stay at the level), and the kernel calls `events`
    /// again to re-arm it. 0 or `-errno`.
    pub events: unsafe extern "C" fn(context: *mut c_void, line: u32, edges: u32) -> i32,
}

/// The geometry of a block device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockGeometry {
    /// Bytes per block (a power of two, at least 512).
    pub block_size: u32,
    /// 0.
    pub reserved: u32,
    /// Number of blocks.
    pub blocks: u64,
}

/// The operations of a block device (`device_class::BLOCK`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockOps {
    /// `class: BLOCK`, `version: BLOCK_OPS_VERSION`.
    pub header: OpsHeader,
    /// See [`OpenFn`].
    pub open: OpenFn,
    /// See [`CloseFn`].
    pub close: CloseFn,
    /// Fills `*geometry`. 0 or `-errno`.
    pub geometry: unsafe extern "C" fn(context: *mut c_void, geometry: *mut BlockGeometry) -> i32,
    /// Reads `count` blocks from block `lba` into `buf`: 0 when done, `-errno`, or
    /// `-EINPROGRESS` when the transfer was started and `keel_block_complete` will end it (the
    /// driver may use `buf` until then, or until `abort` returns).
    pub read: unsafe extern "C" fn(context: *mut c_void, lba: u64, buf: *mut u8, count: u32) -> i32,
    /// Writes `count` blocks from `buf` at block `lba`; answers as `read`.
    pub write:
        unsafe extern "C" fn(context: *mut c_void, lba: u64, buf: *const u8, count: u32) -> i32,
    /// Stops the started transfer that did not complete in time (the kernel gave up waiting):
    /// when it returns the driver no longer touches the transfer's buffer, and a later
    /// `keel_block_complete` for it is ignored.
    pub abort: unsafe extern "C" fn(context: *mut c_void),
}

/// A PCI function a module drives (its `pci=` ids or `pci_class=` classes match), with the resources the kernel gave it:
/// what `keel_pci_device` fills in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciDevice {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Class, subclass and programming interface (`0x080501` for an SDHCI host).
    pub class: u32,
    /// Bus number.
    pub bus: u8,
    /// Device number.
    pub slot: u8,
    /// Function number.
    pub function: u8,
    /// 0.
    pub reserved: u8,
    /// The GIC interrupt ID its interrupt pin is routed to; 0 for none.
    pub irq: u32,
    /// Memory BARs by slot as `(CPU physical address, size)`; `[0, 0]` for an unused,
    /// unassigned or I/O BAR.
    pub bars: [[u64; 2]; 6],
}

/// Most register ranges, interrupts or clocks a [`PlatformDevice`] reports.
pub const PLATFORM_MAX_ITEMS: usize = 4;
/// Longest node path a [`PlatformDevice`] holds.
pub const PLATFORM_PATH_MAX: usize = 64;

/// A device-tree node a module drives, with its resources in CPU terms: what
/// `keel_platform_device` fills in.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformDevice {
    /// Register ranges `(CPU physical address, size)`, translated through every bus's `ranges`.
    pub regs: [[u64; 2]; PLATFORM_MAX_ITEMS],
    /// How many of `regs` are valid.
    pub nregs: u32,
    /// How many of `irqs` are valid.
    pub nirqs: u32,
    /// Interrupts as GIC interrupt IDs (SPI n is 32 + n).
    pub irqs: [u32; PLATFORM_MAX_ITEMS],
    /// Frequencies in Hz of the clocks the node's `clocks` names (0 when a clock's rate is not
    /// in the tree).
    pub clocks: [u64; PLATFORM_MAX_ITEMS],
    /// How many of `clocks` are valid.
    pub nclocks: u32,
    /// The length of `path`.
    pub path_len: u32,
    /// The node's path (`/pl061@9030000`), cut at [`PLATFORM_PATH_MAX`] bytes.
    pub path: [u8; PLATFORM_PATH_MAX],
    /// The `compatible` string that matched, cut at [`PLATFORM_PATH_MAX`] bytes.
    pub compatible: [u8; PLATFORM_PATH_MAX],
    /// The length of `compatible`.
    pub compatible_len: u32,
    /// 0.
    pub reserved: u32,
}

impl Default for PlatformDevice {
    fn default() -> Self {
        PlatformDevice {
            regs: [[0; 2]; PLATFORM_MAX_ITEMS],
            nregs: 0,
            nirqs: 0,
            irqs: [0; PLATFORM_MAX_ITEMS],
            clocks: [0; PLATFORM_MAX_ITEMS],
            nclocks: 0,
            path_len: 0,
            path: [0; PLATFORM_PATH_MAX],
            compatible: [0; PLATFORM_PATH_MAX],
            compatible_len: 0,
            reserved: 0,
        }
    }
}

/// `GpioOps::direction`: input.
pub const GPIO_INPUT: u32 = 0;
/// `GpioOps::direction`: output.
pub const GPIO_OUTPUT: u32 = 1;
/// No pull resistor.
pub const GPIO_PULL_NONE: u32 = 0;
/// Pull-up.
pub const GPIO_PULL_UP: u32 = 1;
/// Pull-down.
pub const GPIO_PULL_DOWN: u32 = 2;
/// Rising edges (low to high).
pub const GPIO_EDGE_RISING: u32 = 1;
/// Falling edges (high to low).
pub const GPIO_EDGE_FALLING: u32 = 2;
/// Both edges.
pub const GPIO_EDGE_BOTH: u32 = GPIO_EDGE_RISING | GPIO_EDGE_FALLING;
/// A level event: the line is high. Waiting for it while the line is high returns at once.
pub const GPIO_LEVEL_HIGH: u32 = 4;
/// A level event: the line is low. Waiting for it while the line is low returns at once.
pub const GPIO_LEVEL_LOW: u32 = 8;
/// [`OpsHeader::features`] of a [`GpioOps`] table: the driver's `events` accepts
/// [`GPIO_LEVEL_HIGH`] and [`GPIO_LEVEL_LOW`]. Without it a level wait fails with `EOPNOTSUPP`.
pub const GPIO_FEATURE_LEVEL_EVENTS: u32 = 1;

/// `ioctl` on `/dev/gpiochipN`: fill a [`GpioChipInfo`] (argument: `*mut GpioChipInfo`).
pub const GPIO_GET_CHIPINFO: u64 = 0x4701;
/// Request a line for this open file (argument: `*const GpioLineArg`, `line`). `EBUSY` if
/// another open file holds it. Every other line ioctl needs the line requested (`EPERM`); closing
/// the file releases its lines.
pub const GPIO_REQUEST_LINE: u64 = 0x4702;
/// Release a requested line (argument: `*const GpioLineArg`, `line`).
pub const GPIO_RELEASE_LINE: u64 = 0x4703;
/// Set the direction (argument: `*const GpioLineArg`: `line`, `value` = [`GPIO_INPUT`] or
/// [`GPIO_OUTPUT`], `extra` = the first output level).
pub const GPIO_SET_DIRECTION: u64 = 0x4704;
/// Drive an output (argument: `*const GpioLineArg`: `line`, `value` 0 or 1).
pub const GPIO_SET_VALUE: u64 = 0x4705;
/// Read a line's level (argument: `*const GpioLineArg`, `line`); the ioctl returns 0 or 1.
pub const GPIO_GET_VALUE: u64 = 0x4706;
/// Set the bias (argument: `*const GpioLineArg`: `line`, `value` = `GPIO_PULL_*`).
pub const GPIO_SET_PULL: u64 = 0x4707;
/// Wait for an event (argument: `*mut GpioEvent`: `line` and `edges` in, the rest out): one of
/// the edges of a non-empty subset of [`GPIO_EDGE_BOTH`], or the level [`GPIO_LEVEL_HIGH`] or
/// [`GPIO_LEVEL_LOW`] alone. Blocks until the line sees one (unless the file is non-blocking:
/// `EAGAIN`); Ctrl-C interrupts it (`EINTR`). A level wait returns at once if the line is at the
/// level already; otherwise the kernel arms the driver's level detection, which fires once and
/// is re-armed by the next wait. A line watches edges or one level at a time: a wait of the
/// other kind replaces the setting. A level wait on a chip whose driver lacks level detection
/// fails with `EOPNOTSUPP`.
pub const GPIO_WAIT_EVENT: u64 = 0x4708;

/// Longest chip name in [`GpioChipInfo`].
pub const GPIO_NAME_MAX: usize = 32;

/// What [`GPIO_GET_CHIPINFO`] reports.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpioChipInfo {
    /// Number of lines.
    pub lines: u32,
    /// Length of `driver`.
    pub driver_len: u32,
    /// The name of the driver module.
    pub driver: [u8; GPIO_NAME_MAX],
}

/// The argument of the line ioctls.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpioLineArg {
    /// The line number.
    pub line: u32,
    /// The request's value (direction, level or pull).
    pub value: u32,
    /// [`GPIO_SET_DIRECTION`]: the first output level.
    pub extra: u32,
    /// 0.
    pub reserved: u32,
}

/// The argument of [`GPIO_WAIT_EVENT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpioEvent {
    /// In: the line.
    pub line: u32,
    /// In: the edges to wait for (`GPIO_EDGE_*`, not 0) or one level (`GPIO_LEVEL_*`). Out: the
    /// edge or level seen.
    pub edges: u32,
    /// Out: when the interrupt arrived (for a level the line is at already: when the wait
    /// checked it), in nanoseconds since boot.
    pub timestamp_ns: u64,
}

/// A checked GPIO request, decoded from an ioctl number and its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpioRequest {
    /// [`GPIO_REQUEST_LINE`].
    Request(u32),
    /// [`GPIO_RELEASE_LINE`].
    Release(u32),
    /// [`GPIO_SET_DIRECTION`]: line, output?, first level.
    Direction {
        /// The line.
        line: u32,
        /// Whether it becomes an output.
        output: bool,
        /// The first output level.
        value: bool,
    },
    /// [`GPIO_SET_VALUE`].
    Set(u32, bool),
    /// [`GPIO_GET_VALUE`].
    Get(u32),
    /// [`GPIO_SET_PULL`]: line and `GPIO_PULL_*`.
    Pull(u32, u32),
}

impl GpioRequest {
    /// Decodes a line ioctl of a chip with `lines` lines. Errors: `ENOTTY` for a request that is
    /// not a line ioctl, `EINVAL` for a line out of range, a level other than 0 or 1, an unknown
    /// direction or pull, or a non-zero reserved field.
    pub fn decode(request: u64, arg: &GpioLineArg, lines: u32) -> Result<GpioRequest, Errno> {
        if arg.reserved != 0 || arg.line >= lines {
            return Err(Errno::EINVAL);
        }
        let level = |v: u32| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Errno::EINVAL),
        };
        let line = arg.line;
        Ok(match request {
            GPIO_REQUEST_LINE => GpioRequest::Request(line),
            GPIO_RELEASE_LINE => GpioRequest::Release(line),
            GPIO_SET_DIRECTION => GpioRequest::Direction {
                line,
                output: match arg.value {
                    GPIO_INPUT => false,
                    GPIO_OUTPUT => true,
                    _ => return Err(Errno::EINVAL),
                },
                value: level(arg.extra)?,
            },
            GPIO_SET_VALUE => GpioRequest::Set(line, level(arg.value)?),
            GPIO_GET_VALUE => GpioRequest::Get(line),
            GPIO_SET_PULL => match arg.value {
                GPIO_PULL_NONE | GPIO_PULL_UP | GPIO_PULL_DOWN => {
                    GpioRequest::Pull(line, arg.value)
                }
                _ => return Err(Errno::EINVAL),
            },
            _ => return Err(Errno::ENOTTY),
        })
    }
}

/// Checks a [`GPIO_WAIT_EVENT`] argument for a chip with `lines` lines whose driver declares
/// `features` ([`OpsHeader::features`]): the line in range and `edges` a non-empty subset of
/// [`GPIO_EDGE_BOTH`] or exactly one of [`GPIO_LEVEL_HIGH`] and [`GPIO_LEVEL_LOW`] (`EINVAL`
/// otherwise). A valid level wait on a chip without [`GPIO_FEATURE_LEVEL_EVENTS`] is
/// `EOPNOTSUPP`.
pub fn check_wait(event: &GpioEvent, lines: u32, features: u32) -> Result<(), Errno> {
    if event.line >= lines {
        return Err(Errno::EINVAL);
    }
    match event.edges {
        GPIO_LEVEL_HIGH | GPIO_LEVEL_LOW if features & GPIO_FEATURE_LEVEL_EVENTS == 0 => {
            Err(Errno::EOPNOTSUPP)
        }
        GPIO_LEVEL_HIGH | GPIO_LEVEL_LOW => Ok(()),
        edges if edges != 0 && edges & !GPIO_EDGE_BOTH == 0 => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// Checks an operation table's header against the class and version the kernel expects and
/// the size of that version's table. Errors: `EINVAL`.
pub fn check_header(
    header: &OpsHeader,
    class: u32,
    version: u32,
    size: usize,
) -> Result<(), Errno> {
    if header.class != class || header.version != version || (header.size as usize) < size {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::device_class;

    fn arg(line: u32, value: u32, extra: u32) -> GpioLineArg {
        GpioLineArg {
            line,
            value,
            extra,
            reserved: 0,
        }
    }

    #[test]
    fn line_requests_decode_and_check_their_values() {
        assert_eq!(
            GpioRequest::decode(GPIO_SET_VALUE, &arg(3, 1, 0), 8),
            Ok(GpioRequest::Set(3, true))
        );
        assert_eq!(
            GpioRequest::decode(GPIO_SET_DIRECTION, &arg(7, GPIO_OUTPUT, 1), 8),
            Ok(GpioRequest::Direction {
                line: 7,
                output: true,
                value: true
            })
        );
        assert_eq!(
            GpioRequest::decode(GPIO_SET_PULL, &arg(0, GPIO_PULL_DOWN, 0), 58),
            Ok(GpioRequest::Pull(0, GPIO_PULL_DOWN))
        );
        assert_eq!(
            GpioRequest::decode(GPIO_GET_VALUE, &arg(57, 0, 0), 58),
            Ok(GpioRequest::Get(57))
        );
    }

    #[test]
    fn bad_line_requests_are_refused() {
        assert_eq!(
            GpioRequest::decode(GPIO_SET_VALUE, &arg(8, 1, 0), 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            GpioRequest::decode(GPIO_SET_VALUE, &arg(1, 2, 0), 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            GpioRequest::decode(GPIO_SET_DIRECTION, &arg(1, 5, 0), 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            GpioRequest::decode(GPIO_SET_PULL, &arg(1, 3, 0), 8),
            Err(Errno::EINVAL)
        );
        let mut reserved = arg(1, 0, 0);
        reserved.reserved = 1;
        assert_eq!(
            GpioRequest::decode(GPIO_GET_VALUE, &reserved, 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            GpioRequest::decode(0x1234, &arg(1, 0, 0), 8),
            Err(Errno::ENOTTY)
        );
    }

    #[test]
    fn wait_arguments_need_a_line_and_known_edges() {
        let ok = GpioEvent {
            line: 3,
            edges: GPIO_EDGE_RISING,
            timestamp_ns: 0,
        };
        let levels = GPIO_FEATURE_LEVEL_EVENTS;
        assert_eq!(check_wait(&ok, 8, 0), Ok(()));
        assert_eq!(
            check_wait(&GpioEvent { edges: 0, ..ok }, 8, levels),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_wait(&GpioEvent { edges: 16, ..ok }, 8, levels),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            check_wait(&GpioEvent { line: 8, ..ok }, 8, levels),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn level_waits_need_one_level_and_a_driver_that_detects_levels() {
        let high = GpioEvent {
            line: 3,
            edges: GPIO_LEVEL_HIGH,
            timestamp_ns: 0,
        };
        let levels = GPIO_FEATURE_LEVEL_EVENTS;
        assert_eq!(check_wait(&high, 8, levels), Ok(()));
        let low = GpioEvent {
            edges: GPIO_LEVEL_LOW,
            ..high
        };
        assert_eq!(check_wait(&low, 8, levels), Ok(()));
        // A driver without the feature bit (every version 1 driver built before it) is never
        // asked for levels.
        assert_eq!(check_wait(&high, 8, 0), Err(Errno::EOPNOTSUPP));
        assert_eq!(check_wait(&low, 8, 0), Err(Errno::EOPNOTSUPP));
        // Both levels, or a level mixed with edges, are refused.
        for edges in [
            GPIO_LEVEL_HIGH | GPIO_LEVEL_LOW,
            GPIO_LEVEL_HIGH | GPIO_EDGE_RISING,
            GPIO_LEVEL_LOW | GPIO_EDGE_BOTH,
        ] {
            assert_eq!(
                check_wait(&GpioEvent { edges, ..high }, 8, levels),
                Err(Errno::EINVAL)
            );
        }
        assert_eq!(
            check_wait(&GpioEvent { line: 8, ..high }, 8, levels),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn headers_name_class_version_and_a_big_enough_size() {
        let header = OpsHeader {
            class: device_class::GPIO,
            version: GPIO_OPS_VERSION,
            size: core::mem::size_of::<GpioOps>() as u32,
            features: GPIO_FEATURE_LEVEL_EVENTS,
        };
        let size = core::mem::size_of::<GpioOps>();
        assert_eq!(
            check_header(&header, device_class::GPIO, GPIO_OPS_VERSION, size),
            Ok(())
        );
        assert!(check_header(&header, device_class::TTY, GPIO_OPS_VERSION, size).is_err());
        assert!(check_header(&header, device_class::GPIO, 2, size).is_err());
        let short = OpsHeader { size: 8, ..header };
        assert!(check_header(&short, device_class::GPIO, GPIO_OPS_VERSION, size).is_err());
    }

    #[test]
    fn tables_have_the_documented_layout() {
        assert_eq!(core::mem::size_of::<OpsHeader>(), 16);
        assert_eq!(core::mem::size_of::<GpioOps>(), 16 + 8 * 8);
        assert_eq!(core::mem::size_of::<TtyOps>(), 16 + 6 * 8);
        assert_eq!(core::mem::size_of::<BlockOps>(), 16 + 6 * 8);
        assert_eq!(core::mem::size_of::<GpioLineArg>(), 16);
        assert_eq!(core::mem::size_of::<GpioEvent>(), 16);
        assert_eq!(core::mem::size_of::<GpioChipInfo>(), 40);
    }
}
