//! The MBR partition table in a disk's first block: up to four primary partitions.
//!
//! Each of the four 16-byte entries at offset 446 gives a status byte (0x80 bootable), a type,
//! and the partition's first block and length (little-endian, 32 bits each); the block ends with
//! the signature 0x55 0xAA. Empty entries (type 0) are skipped. A protective entry of type 0xEE
//! means the disk is GPT-partitioned, which is reported rather than misread. Extended partitions
//! (types 0x05, 0x0F, 0x85) are listed as they are; the logical partitions inside them are not
//! followed.

use core::fmt;

use crate::Region;

/// Where the partition entries start.
const TABLE: usize = 446;
/// Bytes per entry.
const ENTRY: usize = 16;
/// The GPT protective type.
const GPT_PROTECTIVE: u8 = 0xee;

/// A primary partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Its number, 1 to 4 (its node is `mmcblk0p<number>`).
    pub number: u8,
    /// The partition type (0x0C for FAT32 with LBA, 0x83 for Linux).
    pub kind: u8,
    /// Whether the status byte marks it bootable.
    pub bootable: bool,
    /// Its blocks on the disk.
    pub region: Region,
}

/// Why a partition table was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbrError {
    /// The block is shorter than 512 bytes.
    Short {
        /// Its length.
        len: usize,
    },
    /// The block does not end in 0x55 0xAA: there is no partition table.
    NoSignature,
    /// The disk uses a GUID partition table (a protective MBR entry of type 0xEE).
    Gpt,
    /// An entry's status byte is neither 0x00 nor 0x80.
    BadStatus {
        /// The entry's number (1 to 4).
        number: u8,
        /// The status byte.
        status: u8,
    },
    /// An entry reaches beyond the disk.
    BeyondDisk {
        /// The entry's number.
        number: u8,
        /// Its end (first block after it).
        end: u64,
        /// Blocks on the disk.
        blocks: u64,
    },
    /// Two entries overlap.
    Overlap {
        /// The first entry's number.
        a: u8,
        /// The second entry's number.
        b: u8,
    },
}

impl fmt::Display for MbrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MbrError::Short { len } => {
                write!(f, "the first block is {len} bytes; an MBR needs 512")
            }
            MbrError::NoSignature => write!(f, "no MBR partition table (no 0x55AA signature)"),
            MbrError::Gpt => write!(
                f,
                "the disk has a GUID partition table, which is not supported (only MBR)"
            ),
            MbrError::BadStatus { number, status } => write!(
                f,
                "MBR entry {number} has status {status:#04x} (expected 0x00 or 0x80)"
            ),
            MbrError::BeyondDisk {
                number,
                end,
                blocks,
            } => write!(
                f,
                "MBR partition {number} ends at block {end}, beyond the disk's {blocks} blocks"
            ),
            MbrError::Overlap { a, b } => write!(f, "MBR partitions {a} and {b} overlap"),
        }
    }
}

/// The node name of partition `number` of the disk named `disk`: a `p` goes between a name
/// ending in a digit and the number (`mmcblk0` -> `mmcblk0p1`), as on Linux; `sda` -> `sda1`.
pub fn partition_name(disk: &str, number: u8) -> alloc::string::String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        alloc::format!("{disk}p{number}")
    } else {
        alloc::format!("{disk}{number}")
    }
}

fn le32(b: &[u8]) -> u64 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64
}

/// Reads the partition table in `block` (the disk's first block) of a disk with `blocks` blocks.
/// Returns the partitions by number, `None` for empty entries.
pub fn parse(block: &[u8], blocks: u64) -> Result<[Option<Partition>; 4], MbrError> {
    if block.len() < 512 {
        return Err(MbrError::Short { len: block.len() });
    }
    if block[510] != 0x55 || block[511] != 0xaa {
        return Err(MbrError::NoSignature);
    }
    let mut parts = [None; 4];
    for (i, slot) in parts.iter_mut().enumerate() {
        let e = &block[TABLE + i * ENTRY..TABLE + (i + 1) * ENTRY];
        let number = i as u8 + 1;
        let (status, kind) = (e[0], e[4]);
        let (first, count) = (le32(&e[8..12]), le32(&e[12..16]));
        if kind == 0 || count == 0 {
            continue;
        }
        if kind == GPT_PROTECTIVE {
            return Err(MbrError::Gpt);
        }
        if status != 0 && status != 0x80 {
            return Err(MbrError::BadStatus { number, status });
        }
        if first + count > blocks || first == 0 {
            return Err(MbrError::BeyondDisk {
                number,
                end: first + count,
                blocks,
            });
        }
        *slot = Some(Partition {
            number,
            kind,
            bootable: status == 0x80,
            region: Region {
                first,
                blocks: count,
            },
        });
    }
    for (i, a) in parts.iter().enumerate() {
        for b in parts.iter().skip(i + 1) {
            if let (Some(a), Some(b)) = (a, b) {
                let (ra, rb) = (a.region, b.region);
                if ra.first < rb.first + rb.blocks && rb.first < ra.first + ra.blocks {
                    return Err(MbrError::Overlap {
                        a: a.number,
                        b: b.number,
                    });
                }
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mbr(entries: &[(usize, u8, u8, u32, u32)]) -> [u8; 512] {
        let mut b = [0u8; 512];
        for &(slot, status, kind, first, count) in entries {
            let e = &mut b[TABLE + slot * ENTRY..TABLE + (slot + 1) * ENTRY];
            e[0] = status;
            e[4] = kind;
            e[8..12].copy_from_slice(&first.to_le_bytes());
            e[12..16].copy_from_slice(&count.to_le_bytes());
        }
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    #[test]
    fn the_sd_image_layout_parses() {
        // What `cargo xtask image` writes: FAT32 (LBA) from sector 2048 to the end of 64 MiB.
        let b = mbr(&[(0, 0x80, 0x0c, 2048, 131_072 - 2048)]);
        let parts = parse(&b, 131_072).unwrap();
        assert_eq!(
            parts[0],
            Some(Partition {
                number: 1,
                kind: 0x0c,
                bootable: true,
                region: Region {
                    first: 2048,
                    blocks: 129_024
                }
            })
        );
        assert_eq!(parts[1..], [None, None, None]);
    }

    #[test]
    fn entries_keep_their_numbers_and_empty_slots_are_skipped() {
        let b = mbr(&[(0, 0, 0x0c, 2048, 1000), (2, 0, 0x83, 4096, 1000)]);
        let parts = parse(&b, 10_000).unwrap();
        assert_eq!(parts[0].map(|p| p.number), Some(1));
        assert_eq!(parts[1], None);
        assert_eq!(parts[2].map(|p| (p.number, p.kind)), Some((3, 0x83)));
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        assert_eq!(parse(&[0u8; 100], 10), Err(MbrError::Short { len: 100 }));
        assert_eq!(parse(&[0u8; 512], 10), Err(MbrError::NoSignature));
        assert_eq!(parse(&mbr(&[(0, 0, 0xee, 1, 9)]), 10), Err(MbrError::Gpt));
        assert_eq!(
            parse(&mbr(&[(1, 0x12, 0x0c, 1, 9)]), 10),
            Err(MbrError::BadStatus {
                number: 2,
                status: 0x12
            })
        );
        assert_eq!(
            parse(&mbr(&[(0, 0, 0x0c, 8, 9)]), 10),
            Err(MbrError::BeyondDisk {
                number: 1,
                end: 17,
                blocks: 10
            })
        );
        assert_eq!(
            parse(&mbr(&[(0, 0, 0x0c, 1, 5), (3, 0, 0x83, 5, 2)]), 10),
            Err(MbrError::Overlap { a: 1, b: 4 })
        );
        assert!(MbrError::Gpt.to_string().contains("GUID"));
    }

    #[test]
    fn partition_names_follow_linux() {
        assert_eq!(partition_name("mmcblk0", 1), "mmcblk0p1");
        assert_eq!(partition_name("ram12", 4), "ram12p4");
        assert_eq!(partition_name("sda", 2), "sda2");
    }
}
