//! The board table: only what the device tree cannot say.
//!
//! Before the tree is parsed the early console needs a UART address; the table keys it on where
//! each platform loads the kernel (QEMU `virt` RAM starts at 1 GiB, the Pi 4's at 0). After the tree
//! is parsed the board is recognised by its root `compatible`, and the table adds the quirks: the
//! Pi 4 needs GPIO 14/15 switched to the PL011 (ALT0) and its PL011 runs from the 48 MHz clock
//! `config.txt` sets with `init_uart_clock`.

/// What Keel knows about a board beyond its device tree.
#[derive(Debug)]
pub struct Board {
    /// A short name.
    pub name: &'static str,
    /// Root `compatible` strings that identify it.
    pub compatible: &'static [&'static str],
    /// Where its RAM starts (the load address of the kernel lies above it).
    pub ram_base: u64,
    /// The early console's PL011 before the device tree is parsed.
    pub early_uart: u64,
    /// The PL011 reference clock in Hz, when the board fixes it (0: keep the firmware's divisors).
    pub uart_clock_hz: u32,
    /// GPIO controller to route the console pins, with the pins (TX, RX) and their function code.
    pub console_pins: Option<ConsolePins>,
    /// Where the firmware (the VideoCore mailbox) sees physical address 0, for boards whose
    /// firmware answers property requests (`None`: no firmware mailbox).
    pub firmware_bus_base: Option<u64>,
}

/// The board recognised from the device tree (set once at boot).
static CURRENT: spin::Once<&'static Board> = spin::Once::new();

/// Records the board the device tree names.
pub fn set_current(board: &'static Board) {
    CURRENT.call_once(|| board);
}

/// The board the device tree named, once known.
pub fn current() -> Option<&'static Board> {
    CURRENT.get().copied()
}

/// GPIO routing for the console UART (BCM2711 style function select and pulls).
#[derive(Debug)]
pub struct ConsolePins {
    /// Fallback GPIO block address (the tree's `brcm,bcm2711-gpio` wins once parsed).
    pub gpio_base: u64,
    /// Transmit and receive pins.
    pub pins: (u32, u32),
    /// The 3-bit function select code (ALT0 = 0b100).
    pub function: u32,
    /// Pins the firmware may have given the same UART (the Pi 4 routes UART0 to Bluetooth on
    /// GPIO 30-33 as ALT3); they go back to inputs so only one pair drives the UART.
    pub release: &'static [u32],
}

/// The boards Keel knows.
pub static BOARDS: &[Board] = &[
    Board {
        name: "qemu-virt",
        compatible: &["linux,dummy-virt"],
        ram_base: 0x4000_0000,
        early_uart: 0x0900_0000,
        uart_clock_hz: 0,
        console_pins: None,
        firmware_bus_base: None,
    },
    Board {
        name: "rpi4",
        compatible: &["raspberrypi,4-model-b", "brcm,bcm2711"],
        ram_base: 0,
        early_uart: 0xfe20_1000,
        uart_clock_hz: 48_000_000,
        console_pins: Some(ConsolePins {
            gpio_base: 0xfe20_0000,
            pins: (14, 15),
            function: 0b100,
            release: &[30, 31, 32, 33],
        }),
        firmware_bus_base: Some(0xc000_0000),
    },
];

/// The board whose RAM base is the highest one at or below the kernel's load address.
pub fn by_load_address(image_pa: u64) -> &'static Board {
    BOARDS
        .iter()
        .filter(|b| b.ram_base <= image_pa)
        .max_by_key(|b| b.ram_base)
        .unwrap_or(&BOARDS[0])
}

/// The board the device tree's root `compatible` names.
pub fn by_compatible(root: &[&str]) -> Option<&'static Board> {
    BOARDS
        .iter()
        .find(|b| b.compatible.iter().any(|c| root.contains(c)))
}

/// BCM2711 GPIO: GPFSELn at 0x00 + 4 * (pin / 10), 3 bits per pin; GPIO_PUP_PDN_CNTRL_REGn at
/// 0xe4 + 4 * (pin / 16), 2 bits per pin (00 none, 01 pull-up, 10 pull-down). BCM2711 ARM
/// Peripherals, section 5.2.
pub fn route_console_pins(pins: &ConsolePins, gpio_va: usize) {
    let (tx, rx) = pins.pins;
    let set_function = |pin: u32, function: u32| {
        let reg = (gpio_va + 4 * (pin / 10) as usize) as *mut u32;
        let shift = (pin % 10) * 3;
        // SAFETY: `gpio_va` maps the GPIO block; GPFSEL registers are read-modify-write.
        unsafe {
            reg.write_volatile((reg.read_volatile() & !(0b111 << shift)) | (function << shift))
        };
    };
    let set_pull = |pin: u32, code: u32| {
        let reg = (gpio_va + 0xe4 + 4 * (pin / 16) as usize) as *mut u32;
        let shift = (pin % 16) * 2;
        // SAFETY: as above, for the pull-control registers.
        unsafe { reg.write_volatile((reg.read_volatile() & !(0b11 << shift)) | (code << shift)) };
    };
    for &pin in pins.release {
        set_function(pin, 0b000);
    }
    set_function(tx, pins.function);
    set_function(rx, pins.function);
    set_pull(tx, 0b00);
    set_pull(rx, 0b01);
}
