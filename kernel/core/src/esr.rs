//! Decoding of the AArch64 exception syndrome register (`ESR_ELx`) for fault reports.
//!
//! Layout (Arm ARM D19 "ESR_ELx"): `EC` in bits \[31:26\] names the exception class, `IL` in bit
//! 25 gives the trapped instruction's length, and `ISS` in bits \[24:0\] carries class-specific
//! detail. For instruction and data aborts the low six ISS bits are the fault status code
//! (`IFSC`/`DFSC`) decoded by [`FaultStatus`]. Nothing here allocates.

use core::fmt;

/// A raw `ESR_ELx` value as read from the system register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

/// ISS bit 6 (`WnR`) of a data abort: the faulting access was a write.
const ISS_WNR: u32 = 1 << 6;
/// ISS bit 10 (`FnV`) of an abort or watchpoint: `FAR_ELx` does not hold the fault address.
const ISS_FNV: u32 = 1 << 10;
/// Mask of the ISS fault status code field (`DFSC`/`IFSC`).
const ISS_FSC_MASK: u32 = 0x3F;

impl Esr {
    /// Returns the exception class field, bits \[31:26\].
    pub const fn ec(self) -> u8 {
        ((self.0 >> 26) & 0x3F) as u8
    }

    /// Returns the instruction length bit: `true` for a 32-bit trapped instruction.
    pub const fn il(self) -> bool {
        (self.0 >> 25) & 1 == 1
    }

    /// Returns the instruction specific syndrome, bits \[24:0\].
    pub const fn iss(self) -> u32 {
        (self.0 & 0x01FF_FFFF) as u32
    }

    /// Returns the decoded exception class.
    pub const fn class(self) -> ExceptionClass {
        ExceptionClass::from_ec(self.ec())
    }

    /// Returns the decoded fault status for instruction and data aborts, `None` for other classes.
    pub const fn fault_status(self) -> Option<FaultStatus> {
        if self.class().is_abort() {
            Some(FaultStatus::from_code((self.iss() & ISS_FSC_MASK) as u8))
        } else {
            None
        }
    }

    /// Returns whether a data abort was caused by a write (`WnR`); `false` for every other class.
    ///
    /// Cache maintenance and address translation instructions also report as writes, as the
    /// architecture specifies.
    pub const fn is_write(self) -> bool {
        matches!(
            self.class(),
            ExceptionClass::DataAbortLowerEl | ExceptionClass::DataAbortSameEl
        ) && self.iss() & ISS_WNR != 0
    }

    /// Returns whether `FAR_ELx` holds the faulting address.
    ///
    /// That is the case for aborts, PC alignment faults and watchpoints unless the `FnV` bit is
    /// set (which happens for some synchronous external aborts). Other classes do not write
    /// `FAR_ELx`, so this returns `false` for them.
    pub const fn far_valid(self) -> bool {
        match self.class() {
            ExceptionClass::InstructionAbortLowerEl
            | ExceptionClass::InstructionAbortSameEl
            | ExceptionClass::DataAbortLowerEl
            | ExceptionClass::DataAbortSameEl
            | ExceptionClass::WatchpointLowerEl
            | ExceptionClass::WatchpointSameEl => self.iss() & ISS_FNV == 0,
            ExceptionClass::PcAlignment => true,
            _ => false,
        }
    }

    /// Returns the 16-bit immediate of an `SVC`, `HVC`, `SMC` or `BRK` instruction, if this
    /// syndrome reports one of them.
    pub const fn imm16(self) -> Option<u16> {
        match self.class() {
            ExceptionClass::Svc32
            | ExceptionClass::Hvc32
            | ExceptionClass::Svc64
            | ExceptionClass::Hvc64
            | ExceptionClass::Smc64
            | ExceptionClass::Brk64 => Some((self.iss() & 0xFFFF) as u16),
            _ => None,
        }
    }
}

impl fmt::Display for Esr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ESR {:#010x}: {}", self.0, self.class().name())?;
        if let Some(status) = self.fault_status() {
            write!(f, " ({status}")?;
            if self.class().is_data_abort() {
                f.write_str(if self.is_write() { ", write" } else { ", read" })?;
            }
            if !self.far_valid() {
                f.write_str(", FAR not valid")?;
            }
            f.write_str(")")
        } else if let Some(imm) = self.imm16() {
            write!(f, " (imm {imm:#x})")
        } else {
            write!(f, " (ISS {:#x})", self.iss())
        }
    }
}

/// The exception classes defined by the Arm architecture, plus [`ExceptionClass::Other`] for
/// unallocated encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionClass {
    /// 0x00: unknown reason, typically an undefined instruction.
    Unknown,
    /// 0x01: trapped `WFI`/`WFE`/`WFIT`/`WFET`.
    Wfx,
    /// 0x03: trapped AArch32 `MCR`/`MRC` to coprocessor 15.
    Cp15Rt,
    /// 0x04: trapped AArch32 `MCRR`/`MRRC` to coprocessor 15.
    Cp15RRt,
    /// 0x05: trapped AArch32 `MCR`/`MRC` to coprocessor 14.
    Cp14Rt,
    /// 0x06: trapped AArch32 `LDC`/`STC` to coprocessor 14.
    Cp14Ls,
    /// 0x07: trapped access to SVE, Advanced SIMD or floating point.
    FpAsimdAccess,
    /// 0x08: trapped AArch32 `VMRS` of an ID register.
    Cp10Id,
    /// 0x09: trapped pointer authentication instruction.
    PointerAuth,
    /// 0x0A: other trapped instructions (for example `LD64B`/`ST64B`).
    OtherTrap,
    /// 0x0C: trapped AArch32 `MRRC` to coprocessor 14.
    Cp14RRt,
    /// 0x0D: branch target identification failure.
    BranchTarget,
    /// 0x0E: illegal execution state.
    IllegalState,
    /// 0x11: `SVC` executed in AArch32 state.
    Svc32,
    /// 0x12: `HVC` executed in AArch32 state.
    Hvc32,
    /// 0x13: `SMC` executed in AArch32 state.
    Smc32,
    /// 0x15: `SVC` executed in AArch64 state.
    Svc64,
    /// 0x16: `HVC` executed in AArch64 state.
    Hvc64,
    /// 0x17: `SMC` executed in AArch64 state.
    Smc64,
    /// 0x18: trapped `MSR`, `MRS` or system instruction in AArch64 state.
    MsrMrs,
    /// 0x19: trapped SVE access.
    Sve,
    /// 0x1A: trapped `ERET`/`ERETAA`/`ERETAB`.
    Eret,
    /// 0x1C: pointer authentication failure.
    Fpac,
    /// 0x1D: trapped SME access.
    Sme,
    /// 0x1E: granule protection check.
    GranuleProtectionCheck,
    /// 0x1F: implementation defined exception to EL3.
    ImplementationDefined,
    /// 0x20: instruction abort from a lower exception level.
    InstructionAbortLowerEl,
    /// 0x21: instruction abort taken without a change of exception level.
    InstructionAbortSameEl,
    /// 0x22: misaligned program counter.
    PcAlignment,
    /// 0x24: data abort from a lower exception level.
    DataAbortLowerEl,
    /// 0x25: data abort taken without a change of exception level.
    DataAbortSameEl,
    /// 0x26: misaligned stack pointer.
    SpAlignment,
    /// 0x27: memory copy/set (`CPY*`/`SET*`) exception.
    MemoryOperation,
    /// 0x28: trapped floating-point exception in AArch32 state.
    FpException32,
    /// 0x2C: trapped floating-point exception in AArch64 state.
    FpException64,
    /// 0x2D: guarded control stack exception.
    GuardedControlStack,
    /// 0x2F: SError interrupt.
    SError,
    /// 0x30: breakpoint from a lower exception level.
    BreakpointLowerEl,
    /// 0x31: breakpoint taken without a change of exception level.
    BreakpointSameEl,
    /// 0x32: software step from a lower exception level.
    SoftwareStepLowerEl,
    /// 0x33: software step taken without a change of exception level.
    SoftwareStepSameEl,
    /// 0x34: watchpoint from a lower exception level.
    WatchpointLowerEl,
    /// 0x35: watchpoint taken without a change of exception level.
    WatchpointSameEl,
    /// 0x38: `BKPT` executed in AArch32 state.
    Bkpt32,
    /// 0x3A: AArch32 vector catch.
    VectorCatch32,
    /// 0x3C: `BRK` executed in AArch64 state.
    Brk64,
    /// An unallocated exception class value.
    Other(u8),
}

impl ExceptionClass {
    /// Decodes a 6-bit exception class value (higher bits are ignored).
    pub const fn from_ec(ec: u8) -> Self {
        match ec & 0x3F {
            0x00 => Self::Unknown,
            0x01 => Self::Wfx,
            0x03 => Self::Cp15Rt,
            0x04 => Self::Cp15RRt,
            0x05 => Self::Cp14Rt,
            0x06 => Self::Cp14Ls,
            0x07 => Self::FpAsimdAccess,
            0x08 => Self::Cp10Id,
            0x09 => Self::PointerAuth,
            0x0A => Self::OtherTrap,
            0x0C => Self::Cp14RRt,
            0x0D => Self::BranchTarget,
            0x0E => Self::IllegalState,
            0x11 => Self::Svc32,
            0x12 => Self::Hvc32,
            0x13 => Self::Smc32,
            0x15 => Self::Svc64,
            0x16 => Self::Hvc64,
            0x17 => Self::Smc64,
            0x18 => Self::MsrMrs,
            0x19 => Self::Sve,
            0x1A => Self::Eret,
            0x1C => Self::Fpac,
            0x1D => Self::Sme,
            0x1E => Self::GranuleProtectionCheck,
            0x1F => Self::ImplementationDefined,
            0x20 => Self::InstructionAbortLowerEl,
            0x21 => Self::InstructionAbortSameEl,
            0x22 => Self::PcAlignment,
            0x24 => Self::DataAbortLowerEl,
            0x25 => Self::DataAbortSameEl,
            0x26 => Self::SpAlignment,
            0x27 => Self::MemoryOperation,
            0x28 => Self::FpException32,
            0x2C => Self::FpException64,
            0x2D => Self::GuardedControlStack,
            0x2F => Self::SError,
            0x30 => Self::BreakpointLowerEl,
            0x31 => Self::BreakpointSameEl,
            0x32 => Self::SoftwareStepLowerEl,
            0x33 => Self::SoftwareStepSameEl,
            0x34 => Self::WatchpointLowerEl,
            0x35 => Self::WatchpointSameEl,
            0x38 => Self::Bkpt32,
            0x3A => Self::VectorCatch32,
            0x3C => Self::Brk64,
            other => Self::Other(other),
        }
    }

    /// Returns the 6-bit exception class value this variant decodes from.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unknown => 0x00,
            Self::Wfx => 0x01,
            Self::Cp15Rt => 0x03,
            Self::Cp15RRt => 0x04,
            Self::Cp14Rt => 0x05,
            Self::Cp14Ls => 0x06,
            Self::FpAsimdAccess => 0x07,
            Self::Cp10Id => 0x08,
            Self::PointerAuth => 0x09,
            Self::OtherTrap => 0x0A,
            Self::Cp14RRt => 0x0C,
            Self::BranchTarget => 0x0D,
            Self::IllegalState => 0x0E,
            Self::Svc32 => 0x11,
            Self::Hvc32 => 0x12,
            Self::Smc32 => 0x13,
            Self::Svc64 => 0x15,
            Self::Hvc64 => 0x16,
            Self::Smc64 => 0x17,
            Self::MsrMrs => 0x18,
            Self::Sve => 0x19,
            Self::Eret => 0x1A,
            Self::Fpac => 0x1C,
            Self::Sme => 0x1D,
            Self::GranuleProtectionCheck => 0x1E,
            Self::ImplementationDefined => 0x1F,
            Self::InstructionAbortLowerEl => 0x20,
            Self::InstructionAbortSameEl => 0x21,
            Self::PcAlignment => 0x22,
            Self::DataAbortLowerEl => 0x24,
            Self::DataAbortSameEl => 0x25,
            Self::SpAlignment => 0x26,
            Self::MemoryOperation => 0x27,
            Self::FpException32 => 0x28,
            Self::FpException64 => 0x2C,
            Self::GuardedControlStack => 0x2D,
            Self::SError => 0x2F,
            Self::BreakpointLowerEl => 0x30,
            Self::BreakpointSameEl => 0x31,
            Self::SoftwareStepLowerEl => 0x32,
            Self::SoftwareStepSameEl => 0x33,
            Self::WatchpointLowerEl => 0x34,
            Self::WatchpointSameEl => 0x35,
            Self::Bkpt32 => 0x38,
            Self::VectorCatch32 => 0x3A,
            Self::Brk64 => 0x3C,
            Self::Other(ec) => ec & 0x3F,
        }
    }

    /// Returns a human-readable name, e.g. "Data Abort from the same EL".
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "Unknown reason",
            Self::Wfx => "Trapped WFI/WFE",
            Self::Cp15Rt => "Trapped MCR/MRC (coprocessor 15)",
            Self::Cp15RRt => "Trapped MCRR/MRRC (coprocessor 15)",
            Self::Cp14Rt => "Trapped MCR/MRC (coprocessor 14)",
            Self::Cp14Ls => "Trapped LDC/STC (coprocessor 14)",
            Self::FpAsimdAccess => "Trapped SVE/SIMD/FP access",
            Self::Cp10Id => "Trapped VMRS of an ID register",
            Self::PointerAuth => "Trapped pointer authentication instruction",
            Self::OtherTrap => "Trapped LD64B/ST64B or other instruction",
            Self::Cp14RRt => "Trapped MRRC (coprocessor 14)",
            Self::BranchTarget => "Branch Target Exception",
            Self::IllegalState => "Illegal Execution state",
            Self::Svc32 => "SVC in AArch32 state",
            Self::Hvc32 => "HVC in AArch32 state",
            Self::Smc32 => "SMC in AArch32 state",
            Self::Svc64 => "SVC in AArch64 state",
            Self::Hvc64 => "HVC in AArch64 state",
            Self::Smc64 => "SMC in AArch64 state",
            Self::MsrMrs => "Trapped MSR/MRS/system instruction",
            Self::Sve => "Trapped SVE access",
            Self::Eret => "Trapped ERET",
            Self::Fpac => "Pointer authentication failure",
            Self::Sme => "Trapped SME access",
            Self::GranuleProtectionCheck => "Granule Protection Check",
            Self::ImplementationDefined => "Implementation defined exception to EL3",
            Self::InstructionAbortLowerEl => "Instruction Abort from a lower EL",
            Self::InstructionAbortSameEl => "Instruction Abort from the same EL",
            Self::PcAlignment => "PC alignment fault",
            Self::DataAbortLowerEl => "Data Abort from a lower EL",
            Self::DataAbortSameEl => "Data Abort from the same EL",
            Self::SpAlignment => "SP alignment fault",
            Self::MemoryOperation => "Memory copy/set operation exception",
            Self::FpException32 => "Floating-point exception in AArch32 state",
            Self::FpException64 => "Floating-point exception in AArch64 state",
            Self::GuardedControlStack => "Guarded Control Stack exception",
            Self::SError => "SError interrupt",
            Self::BreakpointLowerEl => "Breakpoint from a lower EL",
            Self::BreakpointSameEl => "Breakpoint from the same EL",
            Self::SoftwareStepLowerEl => "Software Step from a lower EL",
            Self::SoftwareStepSameEl => "Software Step from the same EL",
            Self::WatchpointLowerEl => "Watchpoint from a lower EL",
            Self::WatchpointSameEl => "Watchpoint from the same EL",
            Self::Bkpt32 => "BKPT in AArch32 state",
            Self::VectorCatch32 => "Vector catch in AArch32 state",
            Self::Brk64 => "BRK in AArch64 state",
            Self::Other(_) => "Unallocated exception class",
        }
    }

    /// Returns whether this class is an instruction or data abort (ISS holds a fault status).
    pub const fn is_abort(self) -> bool {
        matches!(
            self,
            Self::InstructionAbortLowerEl
                | Self::InstructionAbortSameEl
                | Self::DataAbortLowerEl
                | Self::DataAbortSameEl
        )
    }

    /// Returns whether this class is a data abort.
    pub const fn is_data_abort(self) -> bool {
        matches!(self, Self::DataAbortLowerEl | Self::DataAbortSameEl)
    }
}

impl fmt::Display for ExceptionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded instruction/data fault status code (`IFSC`/`DFSC`, ISS bits \[5:0\]).
///
/// Levels are signed because FEAT_LPA2 and FEAT_D128 add lookup levels -1 and -2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStatus {
    /// An output or table address was wider than the configured physical address size.
    AddressSize {
        /// The translation table level of the walk.
        level: i8,
    },
    /// No valid descriptor maps the address.
    Translation {
        /// The translation table level of the walk.
        level: i8,
    },
    /// The descriptor's access flag is clear.
    AccessFlag {
        /// The translation table level of the walk.
        level: i8,
    },
    /// The access is not permitted by the descriptor's permissions.
    Permission {
        /// The translation table level of the walk.
        level: i8,
    },
    /// Synchronous external abort outside a translation table walk.
    SyncExternal,
    /// Synchronous MTE tag check fault.
    TagCheck,
    /// Synchronous external abort during a translation table walk.
    SyncExternalWalk {
        /// The translation table level of the walk.
        level: i8,
    },
    /// Synchronous parity or ECC error outside a translation table walk.
    Parity,
    /// Synchronous parity or ECC error during a translation table walk.
    ParityWalk {
        /// The translation table level of the walk.
        level: i8,
    },
    /// Misaligned access.
    Alignment,
    /// Granule protection fault during a translation table walk.
    GranuleProtectionWalk {
        /// The translation table level of the walk.
        level: i8,
    },
    /// Granule protection fault outside a translation table walk.
    GranuleProtection,
    /// Several TLB entries matched the address.
    TlbConflict,
    /// Hardware update of the access flag or dirty state was not supported for the access.
    UnsupportedAtomicUpdate,
    /// Implementation defined fault (lockdown).
    Lockdown,
    /// Implementation defined fault (unsupported exclusive or atomic access).
    UnsupportedExclusive,
    /// A reserved fault status code.
    Reserved(u8),
}

impl FaultStatus {
    /// Decodes a 6-bit fault status code (higher bits are ignored).
    pub const fn from_code(code: u8) -> Self {
        let code = code & 0x3F;
        // The low two bits give the level for the level-indexed groups of four.
        let level = (code & 3) as i8;
        match code {
            0x00..=0x03 => Self::AddressSize { level },
            0x04..=0x07 => Self::Translation { level },
            0x08..=0x0B => Self::AccessFlag { level },
            0x0C..=0x0F => Self::Permission { level },
            0x10 => Self::SyncExternal,
            0x11 => Self::TagCheck,
            0x12 => Self::SyncExternalWalk { level: -2 },
            0x13 => Self::SyncExternalWalk { level: -1 },
            0x14..=0x17 => Self::SyncExternalWalk { level },
            0x18 => Self::Parity,
            0x1B => Self::ParityWalk { level: -1 },
            0x1C..=0x1F => Self::ParityWalk { level },
            0x21 => Self::Alignment,
            0x22 => Self::GranuleProtectionWalk { level: -2 },
            0x23 => Self::GranuleProtectionWalk { level: -1 },
            0x24..=0x27 => Self::GranuleProtectionWalk { level },
            0x28 => Self::GranuleProtection,
            0x29 => Self::AddressSize { level: -1 },
            0x2A => Self::Translation { level: -2 },
            0x2B => Self::Translation { level: -1 },
            0x2C => Self::AddressSize { level: -2 },
            0x30 => Self::TlbConflict,
            0x31 => Self::UnsupportedAtomicUpdate,
            0x34 => Self::Lockdown,
            0x35 => Self::UnsupportedExclusive,
            other => Self::Reserved(other),
        }
    }

    /// Returns the translation table level the fault is attributed to, if it has one.
    pub const fn level(self) -> Option<i8> {
        match self {
            Self::AddressSize { level }
            | Self::Translation { level }
            | Self::AccessFlag { level }
            | Self::Permission { level }
            | Self::SyncExternalWalk { level }
            | Self::ParityWalk { level }
            | Self::GranuleProtectionWalk { level } => Some(level),
            _ => None,
        }
    }

    /// Returns the fault's description without its level, e.g. "translation fault".
    pub const fn description(self) -> &'static str {
        match self {
            Self::AddressSize { .. } => "address size fault",
            Self::Translation { .. } => "translation fault",
            Self::AccessFlag { .. } => "access flag fault",
            Self::Permission { .. } => "permission fault",
            Self::SyncExternal => "synchronous external abort",
            Self::TagCheck => "tag check fault",
            Self::SyncExternalWalk { .. } => "synchronous external abort on table walk",
            Self::Parity => "parity/ECC error",
            Self::ParityWalk { .. } => "parity/ECC error on table walk",
            Self::Alignment => "alignment fault",
            Self::GranuleProtectionWalk { .. } => "granule protection fault on table walk",
            Self::GranuleProtection => "granule protection fault",
            Self::TlbConflict => "TLB conflict abort",
            Self::UnsupportedAtomicUpdate => "unsupported atomic hardware update fault",
            Self::Lockdown => "implementation defined fault (lockdown)",
            Self::UnsupportedExclusive => {
                "implementation defined fault (unsupported exclusive or atomic access)"
            }
            Self::Reserved(_) => "reserved fault status code",
        }
    }
}

impl fmt::Display for FaultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())?;
        match (self.level(), self) {
            (Some(level), _) => write!(f, ", level {level}"),
            (None, Self::Reserved(code)) => write!(f, " {code:#04x}"),
            (None, _) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an ESR value from its fields.
    fn esr(ec: u8, il: bool, iss: u32) -> Esr {
        Esr((u64::from(ec) << 26) | (u64::from(il) << 25) | u64::from(iss))
    }

    #[test]
    fn fields_are_extracted() {
        let e = Esr(0x9600_0045);
        assert_eq!(e.ec(), 0x25);
        assert!(e.il());
        assert_eq!(e.iss(), 0x45);
        let e = esr(0x15, false, 0x1FF_FFFF);
        assert_eq!(e.ec(), 0x15);
        assert!(!e.il());
        assert_eq!(e.iss(), 0x1FF_FFFF);
    }

    #[test]
    fn upper_bits_do_not_leak_into_fields() {
        // ISS2 and RES0 bits above bit 31 must not affect EC/IL/ISS.
        let e = Esr(0xFFFF_FFFF_0000_0000 | 0x9600_0045);
        assert_eq!(e.ec(), 0x25);
        assert_eq!(e.iss(), 0x45);
        assert_eq!(e.class(), ExceptionClass::DataAbortSameEl);
    }

    #[test]
    fn every_class_round_trips_through_its_code() {
        for ec in 0u8..64 {
            let class = ExceptionClass::from_ec(ec);
            assert_eq!(class.code(), ec, "class {class:?}");
            assert!(!class.name().is_empty());
        }
    }

    #[test]
    fn unallocated_codes_are_other() {
        for ec in [
            0x02, 0x0B, 0x0F, 0x10, 0x14, 0x1B, 0x23, 0x29, 0x2E, 0x36, 0x3B, 0x3D, 0x3F,
        ] {
            assert_eq!(ExceptionClass::from_ec(ec), ExceptionClass::Other(ec));
        }
        assert_eq!(ExceptionClass::from_ec(0xFF), ExceptionClass::Other(0x3F));
    }

    #[test]
    fn well_known_classes() {
        let cases = [
            (0x00, ExceptionClass::Unknown),
            (0x01, ExceptionClass::Wfx),
            (0x15, ExceptionClass::Svc64),
            (0x16, ExceptionClass::Hvc64),
            (0x17, ExceptionClass::Smc64),
            (0x18, ExceptionClass::MsrMrs),
            (0x19, ExceptionClass::Sve),
            (0x20, ExceptionClass::InstructionAbortLowerEl),
            (0x21, ExceptionClass::InstructionAbortSameEl),
            (0x22, ExceptionClass::PcAlignment),
            (0x24, ExceptionClass::DataAbortLowerEl),
            (0x25, ExceptionClass::DataAbortSameEl),
            (0x26, ExceptionClass::SpAlignment),
            (0x2C, ExceptionClass::FpException64),
            (0x2F, ExceptionClass::SError),
            (0x30, ExceptionClass::BreakpointLowerEl),
            (0x31, ExceptionClass::BreakpointSameEl),
            (0x32, ExceptionClass::SoftwareStepLowerEl),
            (0x33, ExceptionClass::SoftwareStepSameEl),
            (0x34, ExceptionClass::WatchpointLowerEl),
            (0x35, ExceptionClass::WatchpointSameEl),
            (0x3C, ExceptionClass::Brk64),
        ];
        for (ec, class) in cases {
            assert_eq!(esr(ec, true, 0).class(), class);
        }
        assert_eq!(
            ExceptionClass::DataAbortSameEl.name(),
            "Data Abort from the same EL"
        );
    }

    #[test]
    fn fault_status_levels() {
        for level in 0..4u8 {
            let l = level as i8;
            assert_eq!(
                FaultStatus::from_code(level),
                FaultStatus::AddressSize { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(4 + level),
                FaultStatus::Translation { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(8 + level),
                FaultStatus::AccessFlag { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(12 + level),
                FaultStatus::Permission { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(0x14 + level),
                FaultStatus::SyncExternalWalk { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(0x1C + level),
                FaultStatus::ParityWalk { level: l }
            );
            assert_eq!(
                FaultStatus::from_code(0x24 + level),
                FaultStatus::GranuleProtectionWalk { level: l }
            );
        }
        assert_eq!(
            FaultStatus::from_code(0x2B),
            FaultStatus::Translation { level: -1 }
        );
        assert_eq!(
            FaultStatus::from_code(0x2A),
            FaultStatus::Translation { level: -2 }
        );
        assert_eq!(
            FaultStatus::from_code(0x29),
            FaultStatus::AddressSize { level: -1 }
        );
        assert_eq!(
            FaultStatus::from_code(0x2C),
            FaultStatus::AddressSize { level: -2 }
        );
        assert_eq!(
            FaultStatus::from_code(0x13),
            FaultStatus::SyncExternalWalk { level: -1 }
        );
    }

    #[test]
    fn fault_status_singletons_and_reserved() {
        assert_eq!(FaultStatus::from_code(0x10), FaultStatus::SyncExternal);
        assert_eq!(FaultStatus::from_code(0x11), FaultStatus::TagCheck);
        assert_eq!(FaultStatus::from_code(0x18), FaultStatus::Parity);
        assert_eq!(FaultStatus::from_code(0x21), FaultStatus::Alignment);
        assert_eq!(FaultStatus::from_code(0x28), FaultStatus::GranuleProtection);
        assert_eq!(FaultStatus::from_code(0x30), FaultStatus::TlbConflict);
        assert_eq!(
            FaultStatus::from_code(0x31),
            FaultStatus::UnsupportedAtomicUpdate
        );
        assert_eq!(FaultStatus::from_code(0x34), FaultStatus::Lockdown);
        assert_eq!(
            FaultStatus::from_code(0x35),
            FaultStatus::UnsupportedExclusive
        );
        for code in [0x19, 0x1A, 0x20, 0x2D, 0x2F, 0x32, 0x3F] {
            assert_eq!(FaultStatus::from_code(code), FaultStatus::Reserved(code));
            assert_eq!(FaultStatus::from_code(code).level(), None);
        }
    }

    #[test]
    fn fault_status_display() {
        assert_eq!(
            FaultStatus::Translation { level: 3 }.to_string(),
            "translation fault, level 3"
        );
        assert_eq!(
            FaultStatus::Translation { level: -1 }.to_string(),
            "translation fault, level -1"
        );
        assert_eq!(FaultStatus::Alignment.to_string(), "alignment fault");
        assert_eq!(
            FaultStatus::Reserved(0x3F).to_string(),
            "reserved fault status code 0x3f"
        );
    }

    #[test]
    fn fault_status_only_for_aborts() {
        assert_eq!(esr(0x15, true, 0x05).fault_status(), None);
        assert_eq!(esr(0x2F, true, 0x05).fault_status(), None);
        assert_eq!(
            esr(0x20, true, 0x0F).fault_status(),
            Some(FaultStatus::Permission { level: 3 })
        );
        assert_eq!(
            esr(0x21, true, 0x07).fault_status(),
            Some(FaultStatus::Translation { level: 3 })
        );
    }

    #[test]
    fn write_flag_only_for_data_aborts() {
        assert!(esr(0x25, true, ISS_WNR | 0x07).is_write());
        assert!(esr(0x24, true, ISS_WNR).is_write());
        assert!(!esr(0x25, true, 0x07).is_write());
        // Instruction aborts have no WnR; bit 6 is RES0 there and must be ignored.
        assert!(!esr(0x21, true, ISS_WNR).is_write());
        assert!(!esr(0x15, true, ISS_WNR).is_write());
    }

    #[test]
    fn far_validity() {
        assert!(esr(0x25, true, 0x07).far_valid());
        assert!(!esr(0x25, true, ISS_FNV | 0x10).far_valid());
        assert!(!esr(0x20, true, ISS_FNV | 0x10).far_valid());
        assert!(esr(0x35, true, 0).far_valid());
        assert!(!esr(0x34, true, ISS_FNV).far_valid());
        assert!(esr(0x22, true, 0).far_valid());
        assert!(!esr(0x15, true, 0).far_valid());
        assert!(!esr(0x26, true, 0).far_valid());
    }

    #[test]
    fn immediates() {
        assert_eq!(esr(0x15, true, 0x1234).imm16(), Some(0x1234));
        assert_eq!(esr(0x3C, true, 0xF000).imm16(), Some(0xF000));
        assert_eq!(esr(0x25, true, 0x1234).imm16(), None);
    }

    #[test]
    fn display_data_abort() {
        assert_eq!(
            Esr(0x9600_0045).to_string(),
            "ESR 0x96000045: Data Abort from the same EL (translation fault, level 1, write)"
        );
        assert_eq!(
            Esr(0x9200_0007).to_string(),
            "ESR 0x92000007: Data Abort from a lower EL (translation fault, level 3, read)"
        );
        assert_eq!(
            esr(0x25, true, ISS_FNV | 0x10).to_string(),
            "ESR 0x96000410: Data Abort from the same EL \
             (synchronous external abort, read, FAR not valid)"
        );
    }

    #[test]
    fn display_instruction_abort_has_no_direction() {
        assert_eq!(
            Esr(0x8600_000F).to_string(),
            "ESR 0x8600000f: Instruction Abort from the same EL (permission fault, level 3)"
        );
    }

    #[test]
    fn display_other_classes() {
        assert_eq!(
            Esr(0x5600_0001).to_string(),
            "ESR 0x56000001: SVC in AArch64 state (imm 0x1)"
        );
        assert_eq!(
            Esr(0xF200_03E8).to_string(),
            "ESR 0xf20003e8: BRK in AArch64 state (imm 0x3e8)"
        );
        assert_eq!(
            Esr(0x0200_0000).to_string(),
            "ESR 0x02000000: Unknown reason (ISS 0x0)"
        );
        assert_eq!(
            esr(0x3F, false, 0x12).to_string(),
            "ESR 0xfc000012: Unallocated exception class (ISS 0x12)"
        );
    }
}
