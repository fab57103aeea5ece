//! The SDHCI core: one host controller and the card in its slot.
//!
//! Reference: SD Host Controller Simplified Specification 3.00 (registers 0x00-0xFF, 2.2;
//! the card initialisation and transfer sequences, 3.6 and 3.7) and the SD Physical Layer
//! Simplified Specification (4.2 card identification, 4.3 data transfer). Every register access
//! is 32 bits wide: the BCM2711 EMMC2 ignores narrower writes, so the transfer-mode and command
//! halves at 0x0C are written in one store, and the byte-wide fields of 0x28 and 0x2C are changed
//! by read-modify-write of the whole word.
//!
//! Initialisation runs in the module's `init`, after the interrupt handler is registered: each
//! command ends by its interrupt (the handler collects the status bits and `init` waits for
//! them), with a timeout per command after which the status register is read directly (the
//! fallback, counted and logged). Block transfers end by interrupt: [`BlockDevice::start`] writes the command and
//! returns; the interrupt handler moves each 512-byte block through the buffer data port when
//! the host says it is ready, a bounded number per interrupt, and ends the request on transfer complete (or an error, or the card
//! leaving). A failed command or transfer resets the host's command and data lines, so the
//! kernel's retry starts clean.

use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;

use keel_module::abi::device::BlockGeometry;
use keel_module::device::{BlockCompletion, BlockDevice, BlockRequest, Transfer};
use keel_module::irq::IrqLock;
use keel_module::time;
use keel_module::tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use keel_module::tock_registers::registers::{ReadOnly, ReadWrite};
use keel_module::tock_registers::{register_bitfields, register_structs};
use keel_module::{Error, IrqReturn, Mmio, Result};

use crate::proto::{self, int, CardInfo, Command, Data, Failure, Response};

register_bitfields! {
    u32,
    /// PRESENT_STATE (0x24).
    STATE [
        /// A command is in progress.
        CMD_INHIBIT OFFSET(0) NUMBITS(1) [],
        /// The data lines are in use.
        DAT_INHIBIT OFFSET(1) NUMBITS(1) [],
        /// The buffer has room for a block.
        BUFFER_WRITE_ENABLE OFFSET(10) NUMBITS(1) [],
        /// The buffer holds a block.
        BUFFER_READ_ENABLE OFFSET(11) NUMBITS(1) [],
        /// A card is in the slot.
        CARD_INSERTED OFFSET(16) NUMBITS(1) [],
    ],
    /// HOST_CONTROL, POWER_CONTROL, BLOCK_GAP and WAKEUP (0x28).
    CONTROL0 [
        /// 4-bit data bus.
        DATA_WIDTH_4 OFFSET(1) NUMBITS(1) [],
        /// High-speed timing.
        HIGH_SPEED OFFSET(2) NUMBITS(1) [],
        /// SD bus power on.
        BUS_POWER OFFSET(8) NUMBITS(1) [],
        /// SD bus voltage.
        BUS_VOLTAGE OFFSET(9) NUMBITS(3) [
            /// 3.3 V.
            V3_3 = 0b111
        ],
    ],
    /// CLOCK_CONTROL, TIMEOUT_CONTROL and SOFTWARE_RESET (0x2C).
    CONTROL1 [
        /// Internal clock enable.
        CLOCK_INTERNAL OFFSET(0) NUMBITS(1) [],
        /// Internal clock stable.
        CLOCK_STABLE OFFSET(1) NUMBITS(1) [],
        /// SD clock enable.
        CLOCK_SD OFFSET(2) NUMBITS(1) [],
        /// The divider (bits 15:8 low, 7:6 high), as `proto::clock_divider` gives it.
        CLOCK_DIVIDER OFFSET(6) NUMBITS(10) [],
        /// Data timeout: TMCLK * 2^(13 + value).
        DATA_TIMEOUT OFFSET(16) NUMBITS(4) [],
        /// Reset the whole host.
        RESET_ALL OFFSET(24) NUMBITS(1) [],
        /// Reset the command line.
        RESET_CMD OFFSET(25) NUMBITS(1) [],
        /// Reset the data lines.
        RESET_DAT OFFSET(26) NUMBITS(1) [],
    ]
}

register_structs! {
    /// The SDHCI register block (256 bytes).
    pub Registers {
        (0x00 => arg2: ReadWrite<u32>),
        (0x04 => block: ReadWrite<u32>),
        (0x08 => arg1: ReadWrite<u32>),
        (0x0c => command: ReadWrite<u32>),
        (0x10 => response: [ReadOnly<u32>; 4]),
        (0x20 => data: ReadWrite<u32>),
        (0x24 => state: ReadOnly<u32, STATE::Register>),
        (0x28 => control0: ReadWrite<u32, CONTROL0::Register>),
        (0x2c => control1: ReadWrite<u32, CONTROL1::Register>),
        (0x30 => interrupt: ReadWrite<u32>),
        (0x34 => interrupt_enable: ReadWrite<u32>),
        (0x38 => interrupt_signal: ReadWrite<u32>),
        (0x3c => control2: ReadWrite<u32>),
        (0x40 => caps: ReadOnly<u32>),
        (0x44 => caps1: ReadOnly<u32>),
        (0x48 => _reserved),
        (0xfc => version: ReadOnly<u32>),
        (0x100 => @END),
    }
}

/// Board differences of one controller (see `crate::QUIRKS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The base clock comes from the firmware's clock `id` when the capabilities leave it 0.
    pub firmware_clock: Option<u32>,
    /// 3.3 V signalling must be selected through the firmware (the Pi 4's expander GPIO 4).
    pub firmware_3v3: bool,
    /// The card-detect bit is not wired: probe the card by commands only.
    pub broken_card_detect: bool,
}

/// The identification clock.
const INIT_HZ: u64 = 400_000;
/// Default-speed clock.
const DEFAULT_HZ: u64 = 25_000_000;
/// High-speed clock.
const HIGH_SPEED_HZ: u64 = 50_000_000;
/// Most blocks one interrupt moves through the data port (about 4,000 instructions of PIO with
/// interrupts masked). A block left ready raises its own buffer-ready interrupt: its status was
/// set when the buffer filled, after the handler acknowledged the previous one.
const PIO_BLOCKS_PER_INTERRUPT: usize = 8;
/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the card may take to power up (ACMD41).
const POWER_UP_TIMEOUT: Duration = Duration::from_secs(1);
/// Capabilities: high-speed support.
const CAPS_HIGH_SPEED: u32 = 1 << 21;
/// Status bits enabled (not necessarily signalled): everything this driver looks at.
const STATUS_ENABLED: u32 = 0x0fff_00ff;
/// Every status bit, to clear them all (they are write-one-to-clear).
const ALL_STATUS: u32 = 0xffff_ffff;
/// Signalled while no transfer runs: the card coming and going.
const IDLE_SIGNALS: u32 = int::CARD_REMOVAL | int::CARD_INSERTION;
/// Signalled while a command of the initialisation runs: its end (and a busy signal's end).
const COMMAND_SIGNALS: u32 = int::CMD_COMPLETE | int::TRANSFER_COMPLETE | int::ERROR | int::ERRORS;

/// The error a failure gives the caller: no answer or no data in time `ETIMEDOUT`, the card gone
/// `ENOMEDIUM`, anything else `EIO`.
fn error_of(f: Failure) -> Error {
    match f {
        Failure::NoResponse | Failure::DataTimeout => Error::TimedOut,
        Failure::Removed => Error::NoMedium,
        Failure::Error(_) => Error::Io,
    }
}

/// The transfer the interrupt handler is moving.
struct Active {
    request: BlockRequest,
    /// Bytes moved so far.
    offset: usize,
    /// Leave the completion unreported (the `inject_timeout` parameter).
    unanswered: bool,
}

/// One SDHCI controller.
pub struct Host {
    name: String,
    regs: Mmio<Registers>,
    quirks: Quirks,
    spec: u32,
    base_hz: u64,
    card: spin::Once<CardInfo>,
    present: AtomicBool,
    /// A transfer failed or was aborted: the card may still be sending or receiving data, so
    /// the next transfer first stops it (CMD12).
    recover: AtomicBool,
    /// Commands complete by interrupt (the handler is registered): the handler collects their
    /// status bits in `command_events`.
    commands_by_irq: AtomicBool,
    command_events: AtomicU32,
    /// Commands whose completion came by interrupt, and those found complete only after the
    /// interrupt was overdue (the timeout fallback).
    by_irq: AtomicU32,
    by_fallback: AtomicU32,
    /// Transfers started so far, and the one to leave unanswered (0: none).
    started: AtomicU32,
    unanswered: AtomicU32,
    active: IrqLock<Option<Active>>,
    completion: spin::Once<BlockCompletion>,
}

impl Host {
    /// Maps the controller at `phys` and resets it.
    pub fn new(name: &str, phys: u64, size: usize, quirks: Quirks) -> Result<Host> {
        let regs = Mmio::<Registers>::map(phys, size)?;
        let spec = proto::spec_version(regs.version.get());
        let caps = regs.caps.get();
        // The firmware's rate first where the board says so (the Pi 4's EMMC2 clock is set by
        // the firmware), then the capabilities register.
        let (base_hz, source) = match quirks
            .firmware_clock
            .and_then(|id| keel_module::firmware::clock_rate(id).ok())
            .map(u64::from)
        {
            Some(hz) => (hz, "the firmware"),
            None => match proto::caps_base_clock(caps, spec) {
                0 => {
                    log::warn!("{name}: the base clock is unknown; assuming 100 MHz");
                    (100_000_000, "a guess")
                }
                hz => (hz, "the capabilities"),
            },
        };
        if quirks.firmware_3v3 {
            // VDD_SD_IO_SEL (expander GPIO 4) low: 3.3 V signalling; it settles in 5 ms.
            if keel_module::firmware::set_gpio(132, false).is_err() {
                log::warn!("{name}: could not select 3.3 V signalling through the firmware");
            }
            time::delay(Duration::from_millis(5));
        }
        log::info!(
            "{name}: SDHCI {}.00, capabilities {caps:#010x}, base clock {} MHz from {source}",
            spec + 1,
            base_hz / 1_000_000
        );
        Ok(Host {
            name: String::from(name),
            regs,
            quirks,
            spec,
            base_hz,
            card: spin::Once::new(),
            present: AtomicBool::new(false),
            recover: AtomicBool::new(false),
            commands_by_irq: AtomicBool::new(false),
            command_events: AtomicU32::new(0),
            by_irq: AtomicU32::new(0),
            by_fallback: AtomicU32::new(0),
            started: AtomicU32::new(0),
            unanswered: AtomicU32::new(0),
            active: IrqLock::new(None),
            completion: spin::Once::new(),
        })
    }

    /// From now on commands complete by interrupt (call once the handler is registered).
    pub fn use_interrupts(&self) {
        self.commands_by_irq.store(true, Ordering::Release);
    }

    /// What happened to the command in flight: the bits the handler collected and those still
    /// in the status register.
    fn events(&self) -> u32 {
        self.regs.interrupt.get() | self.command_events.load(Ordering::Acquire)
    }

    /// Makes transfer number `n` (counting from 1) go unanswered, to test the kernel's timeout,
    /// abort and retry and this driver's recovery; 0 turns it off.
    pub fn inject_timeout(&self, n: u32) {
        self.unanswered.store(n, Ordering::Relaxed);
    }

    /// Hands the host the completion of its registered device.
    pub fn set_completion(&self, completion: BlockCompletion) {
        self.completion.call_once(|| completion);
    }

    /// Waits until `done` holds or `timeout` passes.
    fn wait(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> Result {
        let start = time::now();
        while !done() {
            if time::now() - start > timeout {
                return Err(Error::TimedOut);
            }
            core::hint::spin_loop();
        }
        Ok(())
    }

    /// Resets the whole host, or its command and/or data lines.
    fn reset(&self, all: bool, cmd: bool, dat: bool) -> Result {
        let bits = CONTROL1::RESET_ALL.val(u32::from(all))
            + CONTROL1::RESET_CMD.val(u32::from(cmd))
            + CONTROL1::RESET_DAT.val(u32::from(dat));
        self.regs.control1.modify(bits);
        self.wait(COMMAND_TIMEOUT, || {
            !self.regs.control1.is_set(CONTROL1::RESET_ALL)
                && !self.regs.control1.is_set(CONTROL1::RESET_CMD)
                && !self.regs.control1.is_set(CONTROL1::RESET_DAT)
        })
    }

    /// Sets the SD clock to at most `hz`; returns the clock it runs at.
    fn set_clock(&self, hz: u64) -> Result<u64> {
        self.regs
            .control1
            .modify(CONTROL1::CLOCK_SD::CLEAR + CONTROL1::CLOCK_INTERNAL::CLEAR);
        let (divider, actual) = proto::clock_divider(self.base_hz, hz, self.spec);
        self.regs.control1.modify(
            CONTROL1::CLOCK_DIVIDER.val(divider >> 6)
                + CONTROL1::CLOCK_INTERNAL::SET
                + CONTROL1::DATA_TIMEOUT.val(0xe),
        );
        self.wait(COMMAND_TIMEOUT, || {
            self.regs.control1.is_set(CONTROL1::CLOCK_STABLE)
        })?;
        self.regs.control1.modify(CONTROL1::CLOCK_SD::SET);
        Ok(actual)
    }

    /// Sends `cmd` and polls for its end; returns the response registers. A failure resets the
    /// command (and data) line.
    fn command(&self, cmd: Command) -> Result<[u32; 4]> {
        let busy = cmd.data.is_some() || cmd.response == Response::R1b;
        self.wait(COMMAND_TIMEOUT, || {
            !self.regs.state.is_set(STATE::CMD_INHIBIT)
                && (!busy || !self.regs.state.is_set(STATE::DAT_INHIBIT))
        })?;
        let by_irq = self.commands_by_irq.load(Ordering::Acquire);
        self.regs.interrupt.set(ALL_STATUS);
        self.command_events.store(0, Ordering::Release);
        if by_irq {
            self.regs.interrupt_signal.set(COMMAND_SIGNALS);
        }
        if cmd.data.is_some() {
            self.regs.block.set(cmd.block_register());
        }
        self.regs.arg1.set(cmd.arg);
        self.regs.command.set(cmd.register());
        let done = int::CMD_COMPLETE | int::ERROR;
        let mut status = 0;
        let mut waited = self.wait(COMMAND_TIMEOUT, || {
            status = if by_irq {
                self.command_events.load(Ordering::Acquire)
            } else {
                self.regs.interrupt.get()
            };
            status & done != 0
        });
        if by_irq {
            if waited.is_ok() {
                self.by_irq.fetch_add(1, Ordering::Relaxed);
            } else {
                // The timeout fallback: the interrupt is overdue, but the status may say done.
                status = self.events();
                if status & done != 0 {
                    self.by_fallback.fetch_add(1, Ordering::Relaxed);
                    waited = Ok(());
                }
            }
        }
        let result = self.command_end(cmd, status, waited);
        if by_irq {
            self.regs.interrupt_signal.set(IDLE_SIGNALS);
        }
        result
    }

    /// The end of a command whose final status is `status`: its response, or the failure (after
    /// resetting the command and data lines).
    fn command_end(&self, cmd: Command, status: u32, waited: Result) -> Result<[u32; 4]> {
        if let Some(f) = proto::failure(status).or(waited.err().map(|_| Failure::NoResponse)) {
            self.regs.interrupt.set(ALL_STATUS);
            let _ = self.reset(false, true, true);
            return Err(error_of(f));
        }
        self.regs.interrupt.set(int::CMD_COMPLETE);
        let r = &self.regs.response;
        let response = [r[0].get(), r[1].get(), r[2].get(), r[3].get()];
        if cmd.response == Response::R1b {
            self.wait(COMMAND_TIMEOUT * 10, || {
                self.events() & (int::TRANSFER_COMPLETE | int::ERROR) != 0
            })?;
            self.regs.interrupt.set(ALL_STATUS);
        }
        Ok(response)
    }

    /// An application command: CMD55 with the card's address, then `cmd`.
    fn app_command(&self, rca: u16, cmd: Command) -> Result<[u32; 4]> {
        self.command(Command::new(
            proto::CMD55,
            u32::from(rca) << 16,
            Response::R1,
        ))?;
        self.command(cmd)
    }

    /// Reads `buf` (whole blocks) by polling: for the data of initialisation commands (CMD6).
    fn polled_read(&self, cmd: Command, buf: &mut [u8]) -> Result {
        self.command(cmd)?;
        for chunk in buf.chunks_mut(4) {
            self.wait(COMMAND_TIMEOUT, || {
                self.regs.state.is_set(STATE::BUFFER_READ_ENABLE) || self.events() & int::ERROR != 0
            })?;
            if self.events() & int::ERROR != 0 {
                self.regs.interrupt.set(ALL_STATUS);
                let _ = self.reset(false, true, true);
                return Err(Error::Io);
            }
            let word = self.regs.data.get().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.wait(COMMAND_TIMEOUT, || {
            self.events() & (int::TRANSFER_COMPLETE | int::ERROR) != 0
        })?;
        self.regs.interrupt.set(ALL_STATUS);
        Ok(())
    }

    /// Powers the slot and brings the card to the transfer state: identification, its address
    /// and capacity, the 4-bit bus and the fastest clock both sides allow.
    pub fn init_card(&self) -> Result {
        let name = &self.name;
        self.reset(true, false, false)?;
        self.regs
            .control0
            .modify(CONTROL0::BUS_VOLTAGE::V3_3 + CONTROL0::BUS_POWER::SET);
        self.regs.interrupt_enable.set(STATUS_ENABLED);
        self.regs.interrupt_signal.set(0);
        self.regs.interrupt.set(ALL_STATUS);
        if !self.quirks.broken_card_detect && !self.regs.state.is_set(STATE::CARD_INSERTED) {
            log::info!("{name}: no card in the slot");
            return Err(Error::NoMedium);
        }
        self.set_clock(INIT_HZ)?;
        time::delay(Duration::from_millis(1));

        self.command(Command::new(proto::CMD0, 0, Response::None))?;
        let version2 = match self.command(Command::new(proto::CMD8, proto::CMD8_ARG, Response::R1))
        {
            Ok(r) if proto::r7_ok(r[0]) => true,
            Ok(r) => {
                log::warn!("{name}: CMD8 answered {:#x}: unusable voltage", r[0]);
                return Err(Error::NoDevice);
            }
            Err(Error::TimedOut) => false,
            Err(e) => return Err(e),
        };
        let start = time::now();
        let ocr = loop {
            let arg = proto::acmd41_arg(version2);
            let ocr = match self.app_command(0, Command::new(proto::ACMD41, arg, Response::R3)) {
                Ok(r) => r[0],
                Err(Error::TimedOut) if !version2 => {
                    log::info!("{name}: no SD memory card answers");
                    return Err(Error::NoMedium);
                }
                Err(e) => return Err(e),
            };
            if ocr & proto::OCR_READY != 0 {
                break ocr;
            }
            if time::now() - start > POWER_UP_TIMEOUT {
                log::warn!("{name}: the card did not finish powering up");
                return Err(Error::TimedOut);
            }
            time::delay(Duration::from_millis(10));
        };
        let cid = proto::r2_register(self.command(Command::new(proto::CMD2, 0, Response::R2))?);
        let rca = (self.command(Command::new(proto::CMD3, 0, Response::R1))?[0] >> 16) as u16;
        let csd = proto::r2_register(self.command(Command::new(
            proto::CMD9,
            u32::from(rca) << 16,
            Response::R2,
        ))?);
        let blocks = proto::csd_blocks(csd).ok_or(Error::NotImplemented)?;
        self.command(Command::new(
            proto::CMD7,
            u32::from(rca) << 16,
            Response::R1b,
        ))?;
        let card = CardInfo {
            block_addressing: ocr & proto::OCR_CCS != 0,
            blocks,
            rca,
        };
        if !card.block_addressing {
            self.command(Command::new(proto::CMD16, 512, Response::R1))?;
        }
        // Every SD memory card supports the 4-bit bus (Physical Layer 3.0, SCR SD_BUS_WIDTHS).
        self.app_command(rca, Command::new(proto::ACMD6, 2, Response::R1))?;
        self.regs.control0.modify(CONTROL0::DATA_WIDTH_4::SET);
        let high_speed = self.regs.caps.get() & CAPS_HIGH_SPEED != 0 && self.switch_high_speed();
        let hz = if high_speed {
            self.regs.control0.modify(CONTROL0::HIGH_SPEED::SET);
            self.set_clock(HIGH_SPEED_HZ)?
        } else {
            self.set_clock(DEFAULT_HZ)?
        };
        let product = proto::cid_name(cid);
        log::info!(
            "{name}: {} card {}, {} blocks ({} MiB), 4-bit bus at {} kHz{}",
            card.kind(),
            core::str::from_utf8(&product).unwrap_or("?"),
            blocks,
            blocks / 2048,
            hz / 1000,
            if high_speed { ", high speed" } else { "" }
        );
        log::info!(
            "{name}: {} commands completed by interrupt, {} found complete after the interrupt was overdue",
            self.by_irq.load(Ordering::Relaxed),
            self.by_fallback.load(Ordering::Relaxed)
        );
        self.card.call_once(|| card);
        self.present.store(true, Ordering::Release);
        self.regs.interrupt.set(ALL_STATUS);
        self.regs.interrupt_signal.set(IDLE_SIGNALS);
        Ok(())
    }

    /// Asks the card to switch to high speed (CMD6, function group 1, function 1); whether it did.
    fn switch_high_speed(&self) -> bool {
        let mut status = [0u8; 64];
        let cmd = Command {
            index: 6,
            arg: 0x80ff_fff1,
            response: Response::R1,
            data: Some(Data {
                blocks: 1,
                block_size: 64,
                read: true,
            }),
        };
        match self.polled_read(cmd, &mut status) {
            // Byte 16, bits 3:0: the function group 1 selected (bits 379:376 of the status).
            Ok(()) => status[16] & 0xf == 1,
            Err(_) => false,
        }
    }

    /// Ends the active transfer with `result`.
    fn finish(&self, active: &mut Option<Active>, result: Result) {
        self.regs.interrupt_signal.set(IDLE_SIGNALS);
        if let (Some(a), Some(c)) = (active.take(), self.completion.get()) {
            c.complete(a.request, result);
        }
    }

    /// The interrupt handler (the line may be shared with other controllers).
    pub fn interrupt(&self) -> IrqReturn {
        let signalled = self.regs.interrupt_signal.get();
        let status = self.regs.interrupt.get();
        if status & signalled == 0 {
            return IrqReturn::None;
        }
        let mut active = self.active.lock();
        if status & int::CARD_REMOVAL != 0 {
            self.present.store(false, Ordering::Release);
            log::warn!("{}: the card was removed", self.name);
        }
        if status & int::CARD_INSERTION != 0 && status & int::CARD_REMOVAL == 0 {
            log::info!(
                "{}: a card was inserted (reload the module to use it)",
                self.name
            );
        }
        if active.is_none() {
            // A command of the initialisation (or the card coming or going): hand its status to
            // the waiting `command`.
            let bits = status & COMMAND_SIGNALS;
            self.regs.interrupt.set(status);
            if bits != 0 {
                self.command_events.fetch_or(bits, Ordering::AcqRel);
            }
            return IrqReturn::Handled;
        }
        if let Some(f) = proto::failure(status) {
            self.regs.interrupt.set(status);
            let _ = self.reset(false, true, true);
            if active.is_some() {
                self.recover.store(true, Ordering::Release);
                if let Failure::Error(bits) = f {
                    log::warn!("{}: transfer error {bits:#06x}", self.name);
                }
                self.finish(&mut active, Err(error_of(f)));
            }
            return IrqReturn::Handled;
        }
        self.regs.interrupt.set(status);
        let Some(a) = active.as_mut() else {
            return IrqReturn::Handled;
        };
        if status & int::CMD_COMPLETE != 0 && proto::r1_error(self.regs.response[0].get()) {
            let _ = self.reset(false, true, true);
            self.recover.store(true, Ordering::Release);
            self.finish(&mut active, Err(Error::Io));
            return IrqReturn::Handled;
        }
        if status & (int::BUFFER_READ_READY | int::BUFFER_WRITE_READY) != 0 {
            let write = a.request.is_write();
            let end = a
                .request
                .len()
                .min(a.offset + PIO_BLOCKS_PER_INTERRUPT * 512);
            while a.offset < end {
                let ready = if write {
                    self.regs.state.is_set(STATE::BUFFER_WRITE_ENABLE)
                } else {
                    self.regs.state.is_set(STATE::BUFFER_READ_ENABLE)
                };
                if !ready {
                    break;
                }
                let block = a.offset..a.offset + 512;
                if write {
                    for word in a.request.bytes()[block].chunks_exact(4) {
                        self.regs
                            .data
                            .set(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
                    }
                } else if let Some(buf) = a.request.bytes_mut() {
                    for word in buf[block].chunks_exact_mut(4) {
                        word.copy_from_slice(&self.regs.data.get().to_le_bytes());
                    }
                }
                a.offset += 512;
            }
        }
        if status & int::TRANSFER_COMPLETE != 0 {
            if a.unanswered {
                log::warn!("{}: transfer left unanswered (inject_timeout)", self.name);
                self.regs.interrupt_signal.set(IDLE_SIGNALS);
                return IrqReturn::Handled;
            }
            let result = if a.offset == a.request.len() {
                Ok(())
            } else {
                Err(Error::Io)
            };
            self.finish(&mut active, result);
        }
        IrqReturn::Handled
    }
}

impl BlockDevice for Host {
    fn geometry(&self) -> Result<BlockGeometry> {
        let card = self.card.get().ok_or(Error::NoMedium)?;
        Ok(BlockGeometry {
            block_size: 512,
            reserved: 0,
            blocks: card.blocks,
        })
    }

    fn start(&self, request: BlockRequest) -> Result<Transfer> {
        let card = self.card.get().ok_or(Error::NoMedium)?;
        if !self.present.load(Ordering::Acquire)
            || (!self.quirks.broken_card_detect && !self.regs.state.is_set(STATE::CARD_INSERTED))
        {
            return Err(Error::NoMedium);
        }
        let blocks = request.len() / 512;
        if blocks == 0 || blocks > 0xffff || !request.len().is_multiple_of(512) {
            return Err(Error::InvalidArgument);
        }
        let cmd = proto::transfer_command(
            !request.is_write(),
            request.lba(),
            blocks as u16,
            card.block_addressing,
        );
        // The previous transfer left the lines free; a stuck line is reset.
        if self
            .wait(COMMAND_TIMEOUT, || {
                !self.regs.state.is_set(STATE::CMD_INHIBIT)
                    && !self.regs.state.is_set(STATE::DAT_INHIBIT)
            })
            .is_err()
        {
            self.reset(false, true, true)?;
        }
        if self.recover.swap(false, Ordering::AcqRel) {
            // Back to the transfer state after a failed or aborted transfer: stop whatever the
            // card was doing (an error here only means it was not in a data state), then ask
            // its state.
            let _ = self.command(Command::new(proto::CMD12, 0, Response::R1b));
            let status = self.command(Command::new(
                proto::CMD13,
                u32::from(card.rca) << 16,
                Response::R1,
            ))?;
            log::info!(
                "{}: recovered after a failed transfer (card state {})",
                self.name,
                proto::card_state(status[0])
            );
        }
        let mut active = self.active.lock();
        if active.is_some() {
            return Err(Error::Busy);
        }
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let unanswered = number == self.unanswered.load(Ordering::Relaxed);
        *active = Some(Active {
            request,
            offset: 0,
            unanswered,
        });
        self.regs.interrupt.set(ALL_STATUS);
        self.regs.interrupt_signal.set(int::TRANSFER);
        self.regs.block.set(cmd.block_register());
        self.regs.arg1.set(cmd.arg);
        self.regs.command.set(cmd.register());
        Ok(Transfer::Started)
    }

    fn abort(&self) {
        let mut active = self.active.lock();
        self.regs.interrupt_signal.set(IDLE_SIGNALS);
        let _ = self.reset(false, true, true);
        self.regs.interrupt.set(ALL_STATUS);
        // The request goes unanswered: the kernel gave up on it.
        *active = None;
        self.recover.store(true, Ordering::Release);
    }
}
