//! The `hexdump -C` ("canonical") layout, exactly as util-linux prints it:
//!
//! ```text
//! 00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 00 00  |Hello, world!...|
//! *
//! 00000020  61 62 63                                          |abc|
//! 00000023
//! ```
//!
//! A line equal to the one before is replaced by one `*` line; the last line gives the offset
//! after the data.

use alloc::string::String;
use core::fmt::Write;

/// A streaming `hexdump -C` formatter: feed it bytes, collect the text.
#[derive(Clone, Debug)]
pub struct HexDump {
    offset: u64,
    line: [u8; 16],
    len: usize,
    prev: Option<[u8; 16]>,
    squeezing: bool,
    any: bool,
}

impl HexDump {
    /// A formatter whose first byte is at `offset` (the `-s` skip).
    pub fn new(offset: u64) -> HexDump {
        HexDump {
            offset,
            line: [0; 16],
            len: 0,
            prev: None,
            squeezing: false,
            any: false,
        }
    }

    /// Formats `data`, appending complete lines to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut String) {
        for &b in data {
            self.any = true;
            self.line[self.len] = b;
            self.len += 1;
            if self.len == 16 {
                self.emit_full(out);
            }
        }
    }

    fn emit_full(&mut self, out: &mut String) {
        if self.prev == Some(self.line) {
            if !self.squeezing {
                out.push_str("*\n");
                self.squeezing = true;
            }
        } else {
            line(out, self.offset, &self.line);
            self.squeezing = false;
            self.prev = Some(self.line);
        }
        self.offset += 16;
        self.len = 0;
    }

    /// Ends the dump: the last partial line and the final offset. `force_offset` prints the
    /// offset line even when no byte was seen (used after a skip).
    pub fn finish(mut self, out: &mut String, force_offset: bool) {
        if self.len > 0 {
            let n = self.len;
            line(out, self.offset, &self.line[..n]);
            self.offset += n as u64;
        }
        if self.any || force_offset {
            let _ = writeln!(out, "{:08x}", self.offset);
        }
    }
}

fn line(out: &mut String, offset: u64, bytes: &[u8]) {
    let _ = write!(out, "{offset:08x}  ");
    for i in 0..16 {
        if i == 8 {
            out.push(' ');
        }
        match bytes.get(i) {
            Some(b) => {
                let _ = write!(out, "{b:02x} ");
            }
            None => out.push_str("   "),
        }
    }
    out.push_str(" |");
    for &b in bytes {
        out.push(if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '.'
        });
    }
    out.push_str("|\n");
}

/// The whole dump of `data` starting at `offset`.
pub fn dump(data: &[u8], offset: u64) -> String {
    let mut out = String::new();
    let mut h = HexDump::new(offset);
    h.push(data, &mut out);
    h.finish(&mut out, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn short_line() {
        assert_eq!(
            dump(b"Hello\n", 0),
            "00000000  48 65 6c 6c 6f 0a                                 |Hello.|\n00000006\n"
        );
    }

    #[test]
    fn empty_input_prints_nothing() {
        assert_eq!(dump(b"", 0), "");
        let mut out = String::new();
        HexDump::new(0x13).finish(&mut out, true);
        assert_eq!(out, "00000013\n");
    }

    #[test]
    fn repeated_lines_are_squeezed() {
        let mut data = alloc::vec![0u8; 40];
        data.extend_from_slice(b"abc");
        assert_eq!(
            dump(&data, 0),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000020  00 00 00 00 00 00 00 00  61 62 63                 |........abc|\n\
             0000002b\n"
        );
        assert_eq!(
            dump(&[0u8; 64], 0),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000040\n"
        );
    }

    #[test]
    fn squeeze_resumes_after_a_different_line() {
        let mut data: Vec<u8> = alloc::vec![0; 32];
        data.extend_from_slice(&[b'a'; 16]);
        data.extend_from_slice(&[0; 32]);
        let z = "00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|";
        let a = "61 61 61 61 61 61 61 61  61 61 61 61 61 61 61 61  |aaaaaaaaaaaaaaaa|";
        assert_eq!(
            dump(&data, 0),
            alloc::format!("00000000  {z}\n*\n00000020  {a}\n00000030  {z}\n*\n00000050\n")
        );
    }

    #[test]
    fn offset_start_and_non_printables() {
        assert_eq!(
            dump(b"3456789abcdefX", 3),
            "00000003  33 34 35 36 37 38 39 61  62 63 64 65 66 58        |3456789abcdefX|\n00000011\n"
        );
        assert_eq!(
            dump(&[0x7f, 0x80, 0xff, b' ', b'~'], 0),
            "00000000  7f 80 ff 20 7e                                    |... ~|\n00000005\n"
        );
    }

    #[test]
    fn streaming_in_odd_pieces_matches_one_piece() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 % 13) as u8).collect();
        let mut out = String::new();
        let mut h = HexDump::new(0);
        for chunk in data.chunks(7) {
            h.push(chunk, &mut out);
        }
        h.finish(&mut out, false);
        assert_eq!(out, dump(&data, 0));
    }
}
