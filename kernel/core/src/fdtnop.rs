//! Removing `FDT_NOP` tokens from a flattened device tree, in place.
//!
//! Firmware and QEMU delete nodes from a tree by overwriting their tokens with `FDT_NOP` (QEMU's
//! `raspi4b` does it to the PCIe, RNG, thermal and Ethernet nodes). Such trees are valid, but some
//! parsers only skip NOPs in a few places. [`strip_nops`] compacts the structure block so that no
//! NOP is left, and shortens `size_dt_struct` to match; every other byte keeps its offset.
//!
//! Format (Devicetree Specification v0.4, chapter 5): a 40-byte big-endian header, then a structure
//! block of 4-byte-aligned tokens: `FDT_BEGIN_NODE` + NUL-terminated name padded to 4,
//! `FDT_END_NODE`, `FDT_PROP` + length + name offset + value padded to 4, `FDT_NOP`, `FDT_END`.

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
const HEADER_LEN: usize = 40;

/// Why a tree could not be compacted (the tree is left unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdtNopError {
    /// The buffer is shorter than the header or than `totalsize`.
    Truncated,
    /// The header's magic is not 0xd00dfeed.
    BadMagic(u32),
    /// The structure block lies outside the blob.
    BadStructBlock,
    /// An unknown token at this offset of the structure block.
    BadToken {
        /// Offset within the structure block.
        offset: usize,
        /// The token read.
        token: u32,
    },
    /// The structure block ended before `FDT_END`.
    NoEnd,
}

impl core::fmt::Display for FdtNopError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FdtNopError::Truncated => write!(f, "the device tree is shorter than its header says"),
            FdtNopError::BadMagic(m) => {
                write!(f, "bad device-tree magic {m:#x} (expected 0xd00dfeed)")
            }
            FdtNopError::BadStructBlock => {
                write!(f, "the structure block lies outside the device tree")
            }
            FdtNopError::BadToken { offset, token } => {
                write!(
                    f,
                    "unknown token {token:#x} at offset {offset:#x} of the structure block"
                )
            }
            FdtNopError::NoEnd => write!(f, "the structure block has no FDT_END token"),
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn align4(x: usize) -> usize {
    (x + 3) & !3
}

/// Length in bytes of the token at `at` (including its payload), or an error.
fn token_len(block: &[u8], at: usize) -> Result<(u32, usize), FdtNopError> {
    let token = be32(block, at).ok_or(FdtNopError::NoEnd)?;
    let len = match token {
        BEGIN_NODE => {
            let name = block.get(at + 4..).ok_or(FdtNopError::NoEnd)?;
            let nul = name
                .iter()
                .position(|&c| c == 0)
                .ok_or(FdtNopError::NoEnd)?;
            4 + align4(nul + 1)
        }
        PROP => {
            let value_len = be32(block, at + 4).ok_or(FdtNopError::NoEnd)? as usize;
            12 + align4(value_len)
        }
        END_NODE | NOP | END => 4,
        _ => return Err(FdtNopError::BadToken { offset: at, token }),
    };
    if at + len > block.len() {
        return Err(FdtNopError::NoEnd);
    }
    Ok((token, len))
}

/// Compacts the structure block of the tree in `blob`, removing every `FDT_NOP`. Returns how many
/// NOP tokens were removed. The tree is validated completely before anything is written.
pub fn strip_nops(blob: &mut [u8]) -> Result<usize, FdtNopError> {
    let magic = be32(blob, 0).ok_or(FdtNopError::Truncated)?;
    if magic != MAGIC {
        return Err(FdtNopError::BadMagic(magic));
    }
    let total = be32(blob, 4).ok_or(FdtNopError::Truncated)? as usize;
    if total < HEADER_LEN || total > blob.len() {
        return Err(FdtNopError::Truncated);
    }
    let off = be32(blob, 8).ok_or(FdtNopError::Truncated)? as usize;
    let size = be32(blob, 36).ok_or(FdtNopError::Truncated)? as usize;
    let end = off.checked_add(size).ok_or(FdtNopError::BadStructBlock)?;
    if off < HEADER_LEN || end > total {
        return Err(FdtNopError::BadStructBlock);
    }

    // Validate first: walk to FDT_END.
    let mut nops = 0;
    let mut at = 0;
    loop {
        let (token, len) = token_len(&blob[off..end], at)?;
        nops += usize::from(token == NOP);
        at += len;
        if token == END {
            break;
        }
    }
    if nops == 0 {
        return Ok(0);
    }

    // Then compact: copy every token but NOPs down over the gaps.
    let block = &mut blob[off..end];
    let (mut read, mut write) = (0, 0);
    loop {
        let (token, len) = token_len(block, read).map_err(|_| FdtNopError::NoEnd)?;
        if token != NOP {
            block.copy_within(read..read + len, write);
            write += len;
        }
        read += len;
        if token == END {
            break;
        }
    }
    blob[36..40].copy_from_slice(&(write as u32).to_be_bytes());
    Ok(nops)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tree: header + structure block from `tokens` (already encoded) + empty strings.
    fn tree(tokens: &[u32], extra: usize) -> Vec<u8> {
        let block: Vec<u8> = tokens.iter().flat_map(|t| t.to_be_bytes()).collect();
        let total = HEADER_LEN + block.len() + extra;
        let mut b = vec![0u8; total];
        let put =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut b, 0, MAGIC);
        put(&mut b, 4, total as u32);
        put(&mut b, 8, HEADER_LEN as u32);
        put(&mut b, 12, (HEADER_LEN + block.len()) as u32);
        put(&mut b, 36, block.len() as u32);
        b[HEADER_LEN..HEADER_LEN + block.len()].copy_from_slice(&block);
        b
    }

    fn block(b: &[u8]) -> Vec<u32> {
        let size = be32(b, 36).unwrap() as usize;
        b[HEADER_LEN..HEADER_LEN + size]
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    // Root node "" with a property (len 5, padded to 8) and a child "a" whose content is NOPs.
    const NAME_EMPTY: u32 = 0;
    const NAME_A: u32 = u32::from_be_bytes(*b"a\0\0\0");

    #[test]
    fn removes_nops_between_and_inside_nodes() {
        let toks = [
            BEGIN_NODE,
            NAME_EMPTY,
            NOP,
            PROP,
            5,
            0,
            0x6162_6364,
            0x6500_0000,
            NOP,
            NOP,
            BEGIN_NODE,
            NAME_A,
            END_NODE,
            END_NODE,
            END,
        ];
        let mut b = tree(&toks, 8);
        assert_eq!(strip_nops(&mut b), Ok(3));
        assert_eq!(
            block(&b),
            vec![
                BEGIN_NODE,
                NAME_EMPTY,
                PROP,
                5,
                0,
                0x6162_6364,
                0x6500_0000,
                BEGIN_NODE,
                NAME_A,
                END_NODE,
                END_NODE,
                END
            ]
        );
    }

    #[test]
    fn nop_inside_property_value_is_data_not_a_token() {
        let toks = [BEGIN_NODE, NAME_EMPTY, PROP, 4, 0, NOP, END_NODE, END];
        let mut b = tree(&toks, 0);
        let before = b.clone();
        assert_eq!(strip_nops(&mut b), Ok(0));
        assert_eq!(b, before);
    }

    #[test]
    fn whole_deleted_node_disappears() {
        let toks = [BEGIN_NODE, NAME_EMPTY, NOP, NOP, NOP, END_NODE, END];
        let mut b = tree(&toks, 0);
        assert_eq!(strip_nops(&mut b), Ok(3));
        assert_eq!(block(&b), vec![BEGIN_NODE, NAME_EMPTY, END_NODE, END]);
        assert_eq!(
            be32(&b, 4).unwrap() as usize,
            b.len(),
            "totalsize unchanged"
        );
    }

    #[test]
    fn malformed_trees_are_refused_untouched() {
        let mut bad_magic = tree(&[END], 0);
        bad_magic[0] = 0;
        assert!(matches!(
            strip_nops(&mut bad_magic),
            Err(FdtNopError::BadMagic(_))
        ));

        let mut short = tree(&[BEGIN_NODE, NAME_EMPTY, END_NODE, END], 0);
        assert_eq!(strip_nops(&mut short[..20]), Err(FdtNopError::Truncated));

        let mut no_end = tree(&[BEGIN_NODE, NAME_EMPTY, NOP, END_NODE], 0);
        let before = no_end.clone();
        assert_eq!(strip_nops(&mut no_end), Err(FdtNopError::NoEnd));
        assert_eq!(no_end, before);

        let mut bad_token = tree(&[BEGIN_NODE, NAME_EMPTY, 7, END], 0);
        assert_eq!(
            strip_nops(&mut bad_token),
            Err(FdtNopError::BadToken {
                offset: 8,
                token: 7
            })
        );

        let mut prop_overrun = tree(&[BEGIN_NODE, NAME_EMPTY, PROP, 400, 0, END], 0);
        assert_eq!(strip_nops(&mut prop_overrun), Err(FdtNopError::NoEnd));

        let mut block_outside = tree(&[END], 0);
        block_outside[36..40].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(
            strip_nops(&mut block_outside),
            Err(FdtNopError::BadStructBlock)
        );
    }
}
