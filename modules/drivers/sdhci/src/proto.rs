//! The SD protocol and the SDHCI register values, as pure logic tested on the host: command
//! encoding, the response formats (R1, R2 CSD, R3 OCR, R6, R7), capacity, the clock divider,
//! and what the interrupt status says about a transfer.

/// The response a command expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// No response (CMD0).
    None,
    /// 136 bits: CID or CSD (R2); CRC checked, no index.
    R2,
    /// 48 bits without CRC or index check (R3, the OCR).
    R3,
    /// 48 bits with CRC and index (R1, R6, R7).
    R1,
    /// R1 with the card busy on DAT0 afterwards (R1b).
    R1b,
}

/// A command: its index, argument and response, and whether it moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// CMD index (0 to 63).
    pub index: u8,
    /// The 32-bit argument.
    pub arg: u32,
    /// The response type.
    pub response: Response,
    /// Moves data on DAT lines.
    pub data: Option<Data>,
}

/// The data phase of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Data {
    /// Blocks moved.
    pub blocks: u16,
    /// Bytes per block.
    pub block_size: u16,
    /// From the card (a read).
    pub read: bool,
}

/// GO_IDLE_STATE.
pub const CMD0: u8 = 0;
/// ALL_SEND_CID.
pub const CMD2: u8 = 2;
/// SEND_RELATIVE_ADDR.
pub const CMD3: u8 = 3;
/// SET_BUS_WIDTH (after CMD55).
pub const ACMD6: u8 = 6;
/// SELECT_CARD.
pub const CMD7: u8 = 7;
/// SEND_IF_COND.
pub const CMD8: u8 = 8;
/// SEND_CSD.
pub const CMD9: u8 = 9;
/// STOP_TRANSMISSION.
pub const CMD12: u8 = 12;
/// SEND_STATUS.
pub const CMD13: u8 = 13;
/// SET_BLOCKLEN.
pub const CMD16: u8 = 16;
/// READ_SINGLE_BLOCK.
pub const CMD17: u8 = 17;
/// READ_MULTIPLE_BLOCK.
pub const CMD18: u8 = 18;
/// WRITE_BLOCK.
pub const CMD24: u8 = 24;
/// WRITE_MULTIPLE_BLOCK.
pub const CMD25: u8 = 25;
/// SD_SEND_OP_COND (after CMD55).
pub const ACMD41: u8 = 41;
/// APP_CMD.
pub const CMD55: u8 = 55;

/// CMD8's argument: 2.7-3.6 V and the check pattern 0xAA.
pub const CMD8_ARG: u32 = 0x1aa;
/// OCR: the card finished powering up (bit 31, "busy" cleared).
pub const OCR_READY: u32 = 1 << 31;
/// OCR: card capacity status, set for SDHC and SDXC (block addressing); HCS in ACMD41.
pub const OCR_CCS: u32 = 1 << 30;
/// OCR: the 3.2-3.4 V window (what the host supplies).
pub const OCR_VOLTAGE_3V3: u32 = 0x0030_0000;

/// Transfer-mode bits (the low half of the 32-bit register at 0x0C).
pub mod tm {
    /// The block count register counts the blocks.
    pub const BLOCK_COUNT_ENABLE: u32 = 1 << 1;
    /// The host sends CMD12 after the last block.
    pub const AUTO_CMD12: u32 = 1 << 2;
    /// Card to host.
    pub const READ: u32 = 1 << 4;
    /// More than one block.
    pub const MULTI_BLOCK: u32 = 1 << 5;
}

impl Command {
    /// A command without data.
    pub const fn new(index: u8, arg: u32, response: Response) -> Command {
        Command {
            index,
            arg,
            response,
            data: None,
        }
    }

    /// The 32-bit value of the transfer-mode and command registers written together at 0x0C
    /// (one store: the EMMC2 controller takes 32-bit writes only, and the write of the command
    /// half starts the command).
    pub fn register(&self) -> u32 {
        let (kind, crc, index_check) = match self.response {
            Response::None => (0b00, false, false),
            Response::R2 => (0b01, true, false),
            Response::R3 => (0b10, false, false),
            Response::R1 => (0b10, true, true),
            Response::R1b => (0b11, true, true),
        };
        let mut command = kind | (u32::from(crc) << 3) | (u32::from(index_check) << 4);
        command |= u32::from(self.index & 0x3f) << 8;
        if self.index == CMD12 {
            // Command type "abort".
            command |= 0b11 << 6;
        }
        let mut mode = 0;
        if let Some(data) = self.data {
            command |= 1 << 5;
            if data.read {
                mode |= tm::READ;
            }
            if data.blocks > 1 {
                mode |= tm::BLOCK_COUNT_ENABLE | tm::MULTI_BLOCK | tm::AUTO_CMD12;
            }
        }
        command << 16 | mode
    }

    /// The block size and count register (0x04) for the data phase.
    pub fn block_register(&self) -> u32 {
        self.data.map_or(0, |d| {
            u32::from(d.blocks) << 16 | u32::from(d.block_size & 0xfff)
        })
    }
}

/// The command that moves `blocks` blocks (512 bytes) at block `lba`: CMD17/18 to read, CMD24/25
/// to write; the argument is a byte address on SDSC cards and a block address otherwise.
pub fn transfer_command(read: bool, lba: u64, blocks: u16, block_addressing: bool) -> Command {
    let index = match (read, blocks > 1) {
        (true, false) => CMD17,
        (true, true) => CMD18,
        (false, false) => CMD24,
        (false, true) => CMD25,
    };
    let arg = if block_addressing { lba } else { lba * 512 };
    Command {
        index,
        arg: arg as u32,
        response: Response::R1,
        data: Some(Data {
            blocks,
            block_size: 512,
            read,
        }),
    }
}

/// ACMD41's argument: the voltage window, and HCS when the card answered CMD8 (version 2).
pub fn acmd41_arg(version2: bool) -> u32 {
    OCR_VOLTAGE_3V3 | if version2 { OCR_CCS } else { 0 }
}

/// Whether CMD8's R7 echoes the voltage and check pattern.
pub fn r7_ok(response: u32) -> bool {
    response & 0xfff == CMD8_ARG
}

/// The card status bits of an R1 response that mean the command failed: out of range,
/// address error, block length error, erase errors, WP violation, lock failed, com CRC error,
/// illegal command, card ECC failed, CC error, error.
pub const R1_ERRORS: u32 = 0xfdf8_0000;

/// Whether an R1 card status reports an error.
pub fn r1_error(status: u32) -> bool {
    status & R1_ERRORS != 0
}

/// The CURRENT_STATE field of an R1 card status (4 = tran, 5 = data, 6 = rcv, 7 = prg).
pub fn card_state(status: u32) -> u32 {
    (status >> 9) & 0xf
}

/// The 128-bit register (CID or CSD) from the four response registers of an R2 response, which
/// hold bits 127..8 (the CRC is dropped) shifted down by 8.
pub fn r2_register(resp: [u32; 4]) -> u128 {
    let raw = u128::from(resp[0])
        | u128::from(resp[1]) << 32
        | u128::from(resp[2]) << 64
        | u128::from(resp[3]) << 96;
    raw << 8
}

/// Bits `hi..=lo` of a 128-bit register.
fn bits(reg: u128, hi: u32, lo: u32) -> u64 {
    ((reg >> lo) & ((1u128 << (hi - lo + 1)) - 1)) as u64
}

/// The card's capacity in 512-byte blocks from its CSD (version 1.0 or 2.0), or `None` for a
/// CSD structure this driver does not know.
pub fn csd_blocks(csd: u128) -> Option<u64> {
    match bits(csd, 127, 126) {
        0 => {
            let c_size = bits(csd, 73, 62);
            let mult = bits(csd, 49, 47);
            let read_bl_len = bits(csd, 83, 80);
            let bytes = (c_size + 1) << (mult + 2) << read_bl_len;
            Some(bytes / 512)
        }
        1 => Some((bits(csd, 69, 48) + 1) * 1024),
        _ => None,
    }
}

/// The product name in a CID (5 ASCII characters).
pub fn cid_name(cid: u128) -> [u8; 5] {
    let mut name = [0u8; 5];
    for (i, c) in name.iter_mut().enumerate() {
        let b = bits(cid, 103 - 8 * i as u32, 96 - 8 * i as u32) as u8;
        *c = if b.is_ascii_graphic() { b } else { b'?' };
    }
    name
}

/// The SDHCI specification version from HOST_VERSION (0 = 1.00, 1 = 2.00, 2 = 3.00).
pub fn spec_version(slot_version: u32) -> u32 {
    (slot_version >> 16) & 0xff
}

/// The base clock in Hz from the capabilities register (bits 15:8 from version 3.00, 13:8
/// before); 0 when the host leaves it to the platform.
pub fn caps_base_clock(caps: u32, spec: u32) -> u64 {
    let mhz = if spec >= 2 {
        (caps >> 8) & 0xff
    } else {
        (caps >> 8) & 0x3f
    };
    u64::from(mhz) * 1_000_000
}

/// The clock-control divider field for at most `target` Hz from `base` Hz: returns the value for
/// bits 15:6 of CLOCK_CONTROL (the 10-bit divider of version 3.00, the power-of-two 8-bit one
/// before) and the resulting frequency. The SD clock is `base / (2 * N)`, or `base` for N = 0.
pub fn clock_divider(base: u64, target: u64, spec: u32) -> (u32, u64) {
    if target == 0 || base == 0 {
        return (0, base);
    }
    if base <= target {
        return (0, base);
    }
    let n = if spec >= 2 {
        base.div_ceil(2 * target).min(0x3ff)
    } else {
        // Version 2: N must be a power of two, 1 to 128.
        let mut n = 1;
        while n < 128 && base / (2 * n) > target {
            n *= 2;
        }
        n
    };
    let field = ((n & 0xff) << 8 | ((n >> 8) & 0x3) << 6) as u32;
    (field, base / (2 * n))
}

/// Interrupt status bits (normal in 15:0, error in 31:16).
pub mod int {
    /// The command finished.
    pub const CMD_COMPLETE: u32 = 1 << 0;
    /// The data transfer finished.
    pub const TRANSFER_COMPLETE: u32 = 1 << 1;
    /// The buffer has room for a block.
    pub const BUFFER_WRITE_READY: u32 = 1 << 4;
    /// The buffer holds a block.
    pub const BUFFER_READ_READY: u32 = 1 << 5;
    /// A card was inserted.
    pub const CARD_INSERTION: u32 = 1 << 6;
    /// The card was removed.
    pub const CARD_REMOVAL: u32 = 1 << 7;
    /// Some error bit is set.
    pub const ERROR: u32 = 1 << 15;
    /// Command timeout.
    pub const CMD_TIMEOUT: u32 = 1 << 16;
    /// Data timeout.
    pub const DATA_TIMEOUT: u32 = 1 << 20;
    /// Every error bit.
    pub const ERRORS: u32 = 0xffff_0000;
    /// What a transfer signals.
    pub const TRANSFER: u32 = CMD_COMPLETE
        | TRANSFER_COMPLETE
        | BUFFER_WRITE_READY
        | BUFFER_READ_READY
        | CARD_REMOVAL
        | ERROR
        | ERRORS;
}

/// What an interrupt status means for a command or transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The card did not answer (a command timeout): no card, or it was pulled.
    NoResponse,
    /// The data did not arrive in time.
    DataTimeout,
    /// A CRC, end-bit, index or other error.
    Error(u32),
    /// The card was removed.
    Removed,
}

/// The failure an interrupt status reports, if any.
pub fn failure(status: u32) -> Option<Failure> {
    if status & int::CARD_REMOVAL != 0 {
        return Some(Failure::Removed);
    }
    let errors = status & int::ERRORS;
    if errors == 0 && status & int::ERROR == 0 {
        return None;
    }
    Some(if errors & int::CMD_TIMEOUT != 0 {
        Failure::NoResponse
    } else if errors & int::DATA_TIMEOUT != 0 {
        Failure::DataTimeout
    } else {
        Failure::Error(errors >> 16)
    })
}

/// Addressing and capacity of an initialised card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardInfo {
    /// SDHC or SDXC: block addresses (OCR CCS); SDSC: byte addresses.
    pub block_addressing: bool,
    /// 512-byte blocks.
    pub blocks: u64,
    /// The relative card address.
    pub rca: u16,
}

impl CardInfo {
    /// "SDHC/SDXC" or "SDSC".
    pub fn kind(&self) -> &'static str {
        if self.block_addressing {
            "SDHC/SDXC"
        } else {
            "SDSC"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_response_type_checks_and_index() {
        assert_eq!(Command::new(CMD0, 0, Response::None).register(), 0);
        // CMD8, R7 (48-bit, CRC and index checked): 0x081A in the command half.
        assert_eq!(
            Command::new(CMD8, CMD8_ARG, Response::R1).register(),
            0x081a_0000
        );
        assert_eq!(Command::new(CMD2, 0, Response::R2).register(), 0x0209_0000);
        assert_eq!(
            Command::new(ACMD41, 0, Response::R3).register(),
            0x2902_0000
        );
        assert_eq!(Command::new(CMD7, 0, Response::R1b).register(), 0x071b_0000);
        assert_eq!(
            Command::new(CMD12, 0, Response::R1b).register(),
            0x0cdb_0000
        );
    }

    #[test]
    fn transfers_pick_the_command_the_mode_and_the_address() {
        let single = transfer_command(true, 5, 1, true);
        assert_eq!(single.index, CMD17);
        assert_eq!(single.arg, 5);
        assert_eq!(single.register(), 0x113a_0000 | tm::READ);
        assert_eq!(single.block_register(), 1 << 16 | 512);
        let multi = transfer_command(false, 5, 8, false);
        assert_eq!(multi.index, CMD25);
        assert_eq!(multi.arg, 5 * 512, "SDSC cards take byte addresses");
        assert_eq!(
            multi.register() & 0xffff,
            tm::BLOCK_COUNT_ENABLE | tm::MULTI_BLOCK | tm::AUTO_CMD12
        );
        assert_eq!(transfer_command(true, 0, 2, true).index, CMD18);
        assert_eq!(transfer_command(false, 0, 1, true).index, CMD24);
    }

    #[test]
    fn acmd41_asks_for_high_capacity_only_of_version_2_cards() {
        assert_eq!(acmd41_arg(true) & OCR_CCS, OCR_CCS);
        assert_eq!(acmd41_arg(false) & OCR_CCS, 0);
        assert!(r7_ok(0x1aa));
        assert!(!r7_ok(0x0aa));
    }

    #[test]
    fn csd_version_2_gives_the_capacity_in_half_mib_units() {
        // C_SIZE (bits 69:48) = 0x3b37: (0x3b37 + 1) * 512 KiB = 7.4 GiB.
        let csd = 1u128 << 126 | 0x3b37u128 << 48;
        assert_eq!(csd_blocks(csd), Some((0x3b37 + 1) * 1024));
    }

    #[test]
    fn csd_version_1_multiplies_c_size_mult_and_block_length() {
        // 64 MiB: READ_BL_LEN 9, C_SIZE_MULT 5 (x128), C_SIZE 1023 -> 1024 * 128 * 512 bytes.
        let csd = 9u128 << 80 | 1023u128 << 62 | 5u128 << 47;
        assert_eq!(csd_blocks(csd), Some(1024 * 128));
        assert_eq!(csd_blocks(3u128 << 126), None);
    }

    #[test]
    fn r2_responses_are_shifted_back_into_place() {
        // CSD structure bits 127:126 sit in bits 119:118 of the response registers.
        let csd = r2_register([0, 0, 0, 0x0040_0000]);
        assert_eq!(bits(csd, 127, 126), 1);
        let cid = r2_register([0, 0x4c00_0000, 0x534b_4545, 0]);
        assert_eq!(&cid_name(cid), b"SKEEL");
    }

    #[test]
    fn clock_dividers_never_exceed_the_target() {
        assert_eq!(clock_divider(52_000_000, 400_000, 2), (65 << 8, 400_000));
        let (field, hz) = clock_divider(700_000_000, 400_000, 2);
        assert!(hz <= 400_000);
        assert_eq!(field, (875 & 0xff) << 8 | (875 >> 8) << 6);
        assert_eq!(
            clock_divider(52_000_000, 50_000_000, 2),
            (1 << 8, 26_000_000)
        );
        assert_eq!(clock_divider(50_000_000, 50_000_000, 2), (0, 50_000_000));
        // Version 2: powers of two only.
        let (field, hz) = clock_divider(52_000_000, 400_000, 1);
        assert_eq!(field, 128 << 8);
        assert_eq!(hz, 203_125);
        for target in [400_000, 25_000_000, 50_000_000] {
            for base in [41_000_000, 52_000_000, 100_000_000, 200_000_000] {
                assert!(clock_divider(base, target, 2).1 <= target);
            }
        }
    }

    #[test]
    fn base_clock_and_version_come_from_the_registers() {
        // QEMU's raspi4b EMMC: CAPS 0x052134B4, version 3.00.
        assert_eq!(spec_version(0x2402_0000), 2);
        assert_eq!(caps_base_clock(0x0521_34b4, 2), 52_000_000);
        assert_eq!(caps_base_clock(0x0000_0000, 2), 0);
    }

    #[test]
    fn interrupt_status_decodes_into_failures() {
        assert_eq!(failure(int::CMD_COMPLETE), None);
        assert_eq!(
            failure(int::ERROR | int::CMD_TIMEOUT),
            Some(Failure::NoResponse)
        );
        assert_eq!(
            failure(int::ERROR | int::DATA_TIMEOUT),
            Some(Failure::DataTimeout)
        );
        assert_eq!(failure(int::ERROR | 1 << 21), Some(Failure::Error(1 << 5)));
        assert_eq!(
            failure(int::CARD_REMOVAL | int::TRANSFER_COMPLETE),
            Some(Failure::Removed)
        );
    }

    #[test]
    fn r1_errors_are_recognised() {
        assert_eq!(card_state(0x900), 4);
        assert!(!r1_error(0x900)); // ready for data, transfer state
        assert!(r1_error(1 << 31)); // out of range
        assert!(r1_error(1 << 22)); // illegal command
    }
}
