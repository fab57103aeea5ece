//! The initial stack of a new user program: its arguments and environment.
//!
//! A program starts with `sp` 16-byte aligned, `x0` = argc, `x1` = the address of argc
//! [`UserSlice`] records (the arguments, `argv[0]` first), `x2` = envc and `x3` = the address of
//! envc records (`NAME=value` entries). The image occupies `[sp, top)`:
//!
//! ```text
//! top ->  padding (0..15 bytes, so that sp is 16-byte aligned)
//!         env strings      each followed by a NUL byte that its record's len does not count
//!         argv strings
//! envp -> envc records     UserSlice { ptr, len }, 16 bytes each
//! argv -> argc records
//!   sp == argv; the program's own stack grows down from here
//! ```
//!
//! At most [`MAX_ARGS`] arguments plus environment entries, and at most [`MAX_ARG_BYTES`] bytes
//! of records and strings (NULs included), are accepted.

use core::fmt;

use keel_abi::types::{UserSlice, MAX_ARGS, MAX_ARG_BYTES};

/// Bytes of one [`UserSlice`] record.
const RECORD: usize = core::mem::size_of::<UserSlice>();
/// Alignment of `sp` (and of `top`) required by the AArch64 procedure call standard.
const STACK_ALIGN: u64 = 16;

/// Where [`build_into`] (or `build`) put things, in user addresses: the values of `sp`, `x0`..`x3` at entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackImage {
    /// The initial stack pointer (16-byte aligned; the image is `[sp, top)`).
    pub sp: u64,
    /// Address of the argument records (`x1`).
    pub argv: u64,
    /// Number of arguments (`x0`).
    pub argc: u64,
    /// Address of the environment records (`x3`).
    pub envp: u64,
    /// Number of environment entries (`x2`).
    pub envc: u64,
}

/// Why a stack image could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// More than [`MAX_ARGS`] arguments plus environment entries.
    TooManyArgs {
        /// Arguments plus environment entries given.
        count: usize,
    },
    /// More than [`MAX_ARG_BYTES`] bytes of records and strings.
    TooManyBytes {
        /// Bytes needed (saturated at `usize::MAX`).
        bytes: usize,
    },
    /// The stack top is not 16-byte aligned.
    MisalignedTop {
        /// The given top.
        top: u64,
    },
    /// The image does not fit below the stack top.
    TopTooLow {
        /// The given top.
        top: u64,
        /// Bytes the image needs.
        size: usize,
    },
    /// The output buffer given to [`build_into`] is not the image's size.
    BufferSize {
        /// The buffer's length.
        len: usize,
        /// The image's size.
        need: usize,
    },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooManyArgs { count } => write!(
                f,
                "initial stack refused: {count} arguments and environment entries, \
                 the limit is {MAX_ARGS}"
            ),
            Self::TooManyBytes { bytes } => write!(
                f,
                "initial stack refused: arguments and environment need {bytes} bytes, \
                 the limit is {MAX_ARG_BYTES}"
            ),
            Self::MisalignedTop { top } => write!(
                f,
                "initial stack refused: top {top:#x} is not {STACK_ALIGN}-byte aligned"
            ),
            Self::TopTooLow { top, size } => write!(
                f,
                "initial stack refused: {size} bytes do not fit below top {top:#x}"
            ),
            Self::BufferSize { len, need } => write!(
                f,
                "initial stack refused: the {len}-byte buffer does not match the \
                 {need}-byte image"
            ),
        }
    }
}

/// Returns the size of the image for `args` and `env`: the distance from `sp` to the top,
/// a multiple of 16.
pub fn image_len(args: &[&[u8]], env: &[&[u8]]) -> Result<usize, StackError> {
    let count = args.len().saturating_add(env.len());
    if count > MAX_ARGS {
        return Err(StackError::TooManyArgs { count });
    }
    let bytes = args
        .iter()
        .chain(env)
        .try_fold(count * RECORD, |sum, s| {
            sum.checked_add(s.len())?.checked_add(1)
        })
        .unwrap_or(usize::MAX);
    if bytes > MAX_ARG_BYTES {
        return Err(StackError::TooManyBytes { bytes });
    }
    // bytes <= MAX_ARG_BYTES, far from overflowing.
    Ok(bytes.next_multiple_of(STACK_ALIGN as usize))
}

/// Writes the image for `args` and `env` below `top` into `out`, which must be exactly
/// [`image_len`] bytes long and becomes the bytes of `[sp, top)`; returns where things are.
pub fn build_into(
    top: u64,
    args: &[&[u8]],
    env: &[&[u8]],
    out: &mut [u8],
) -> Result<StackImage, StackError> {
    if !top.is_multiple_of(STACK_ALIGN) {
        return Err(StackError::MisalignedTop { top });
    }
    let size = image_len(args, env)?;
    if out.len() != size {
        return Err(StackError::BufferSize {
            len: out.len(),
            need: size,
        });
    }
    // size <= MAX_ARG_BYTES + 15, so it fits in u64 and the records below in usize.
    let sp = top
        .checked_sub(size as u64)
        .ok_or(StackError::TopTooLow { top, size })?;
    let argc = args.len();
    let envc = env.len();
    let mut record_at = 0;
    let mut string_at = (argc + envc) * RECORD;
    for s in args.iter().chain(env) {
        let record = UserSlice {
            ptr: sp + string_at as u64,
            len: s.len() as u64,
        };
        out[record_at..record_at + 8].copy_from_slice(&record.ptr.to_le_bytes());
        out[record_at + 8..record_at + RECORD].copy_from_slice(&record.len.to_le_bytes());
        record_at += RECORD;
        out[string_at..string_at + s.len()].copy_from_slice(s);
        out[string_at + s.len()] = 0;
        string_at += s.len() + 1;
    }
    out[string_at..].fill(0);
    Ok(StackImage {
        sp,
        argv: sp,
        argc: argc as u64,
        envp: sp + (argc * RECORD) as u64,
        envc: envc as u64,
    })
}

/// Writes the image for `args` and `env` below `top` into `out` (replacing its contents; it
/// becomes the bytes of `[sp, top)`) and returns where things are. On error `out` is empty.
#[cfg(feature = "alloc")]
pub fn build(
    top: u64,
    args: &[&[u8]],
    env: &[&[u8]],
    out: &mut alloc::vec::Vec<u8>,
) -> Result<StackImage, StackError> {
    let size = image_len(args, env)?;
    out.clear();
    out.resize(size, 0);
    let image = build_into(top, args, env, out);
    if image.is_err() {
        out.clear();
    }
    image
}

#[cfg(test)]
mod tests;
