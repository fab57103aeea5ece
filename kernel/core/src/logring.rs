//! The kernel log ring: a fixed-size byte buffer of whole log lines, read like `dmesg`.
//!
//! Records are numbered with consecutive sequence numbers. Because the numbers are
//! consecutive, they are not stored: the ring remembers the sequence number of its oldest record
//! and each record is just its line, prefixed by the line length as an unsigned LEB128 varint
//! (one byte for lines under 128 bytes). Records wrap around the end of the buffer byte by byte.
//! When a new line does not fit, the oldest whole records are dropped; a reader that fell behind
//! learns how many records it missed from [`ReadResult::dropped`].

/// What one [`LogRing::read`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// Number of bytes written to the output buffer.
    pub bytes: usize,
    /// The sequence number to pass to the next `read` to continue where this one stopped.
    pub next_seq: u64,
    /// Records the reader asked for that were already overwritten (before the first returned).
    pub dropped: u64,
}

/// A ring buffer of `N` bytes holding the most recent log lines.
#[derive(Clone, Debug)]
pub struct LogRing<const N: usize> {
    /// The record bytes.
    buf: [u8; N],
    /// Offset of the oldest record's length prefix.
    head: usize,
    /// Bytes occupied by records, starting at `head` and wrapping.
    used: usize,
    /// Sequence number of the oldest stored record.
    first_seq: u64,
    /// Sequence number the next pushed record will get.
    next_seq: u64,
    /// Records dropped to make room since creation.
    dropped: u64,
}

impl<const N: usize> Default for LogRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns how many bytes the LEB128 encoding of `value` takes.
const fn varint_len(mut value: usize) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

impl<const N: usize> LogRing<N> {
    /// Returns an empty ring.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            used: 0,
            first_seq: 0,
            next_seq: 0,
            dropped: 0,
        }
    }

    /// Returns the longest line the ring stores without truncating it.
    pub const fn max_line_len() -> usize {
        let mut len = N.saturating_sub(1);
        while len > 0 && varint_len(len) + len > N {
            len -= 1;
        }
        len
    }

    /// Returns the sequence number of the oldest line still stored.
    pub const fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Returns the sequence number the next pushed line will get.
    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Returns how many lines have been dropped to make room since the ring was created.
    pub const fn dropped_total(&self) -> u64 {
        self.dropped
    }

    /// Returns whether no line is stored.
    pub const fn is_empty(&self) -> bool {
        self.first_seq == self.next_seq
    }

    /// Appends one line, dropping the oldest lines as needed to make room.
    ///
    /// A single trailing `'\n'` is removed (reads add one back). A line longer than
    /// [`Self::max_line_len`] is truncated. With `N == 0` the line is counted and dropped.
    pub fn push(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        self.next_seq += 1;
        if N == 0 {
            self.first_seq = self.next_seq;
            self.dropped += 1;
            return;
        }
        let len = line.len().min(Self::max_line_len());
        let record = varint_len(len) + len;
        while N - self.used < record {
            self.drop_oldest();
        }
        let mut pos = (self.head + self.used) % N;
        let mut value = len;
        loop {
            let more = value >= 0x80;
            self.buf[pos] = (value & 0x7F) as u8 | if more { 0x80 } else { 0 };
            pos = (pos + 1) % N;
            value >>= 7;
            if !more {
                break;
            }
        }
        let first = len.min(N - pos);
        self.buf[pos..pos + first].copy_from_slice(&line[..first]);
        self.buf[..len - first].copy_from_slice(&line[first..len]);
        self.used += record;
    }

    /// Reads the length prefix at `pos`, returning the line length and the prefix length.
    fn header(&self, pos: usize) -> (usize, usize) {
        let mut len = 0;
        let mut shift = 0;
        let mut i = 0;
        loop {
            let byte = self.buf[(pos + i) % N];
            len |= usize::from(byte & 0x7F) << shift;
            i += 1;
            shift += 7;
            if byte & 0x80 == 0 || shift >= usize::BITS {
                return (len, i);
            }
        }
    }

    /// Removes the oldest record.
    fn drop_oldest(&mut self) {
        let (len, prefix) = self.header(self.head);
        self.head = (self.head + prefix + len) % N;
        self.used -= prefix + len;
        self.first_seq += 1;
        self.dropped += 1;
    }

    /// Copies `out.len()` line bytes starting at buffer offset `pos`, wrapping at the end.
    fn copy_line(&self, pos: usize, out: &mut [u8]) {
        let first = out.len().min(N - pos);
        out[..first].copy_from_slice(&self.buf[pos..pos + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.buf[..rest]);
    }

    /// Copies lines starting at sequence number `from_seq` into `out`, each followed by `'\n'`,
    /// as long as whole lines fit.
    ///
    /// If `from_seq` was already dropped, reading starts at the oldest stored line and
    /// [`ReadResult::dropped`] says how many were missed. If the first line alone does not fit
    /// in a non-empty `out`, it is returned cut to `out.len() - 1` bytes plus `'\n'`, so readers
    /// with small buffers still make progress. A `from_seq` beyond [`Self::next_seq`] reads
    /// nothing and returns `next_seq`.
    pub fn read(&self, from_seq: u64, out: &mut [u8]) -> ReadResult {
        let dropped = self.first_seq.saturating_sub(from_seq);
        let mut seq = from_seq.max(self.first_seq);
        if seq > self.next_seq {
            seq = self.next_seq;
        }
        let mut pos = self.head;
        for _ in self.first_seq..seq {
            let (len, prefix) = self.header(pos);
            pos = (pos + prefix + len) % N;
        }
        let mut bytes = 0;
        while seq < self.next_seq {
            let (len, prefix) = self.header(pos);
            let line_pos = (pos + prefix) % N;
            let room = out.len() - bytes;
            if len < room {
                self.copy_line(line_pos, &mut out[bytes..bytes + len]);
                out[bytes + len] = b'\n';
                bytes += len + 1;
            } else if bytes == 0 && room > 0 {
                self.copy_line(line_pos, &mut out[..room - 1]);
                out[room - 1] = b'\n';
                bytes = room;
                seq += 1;
                break;
            } else {
                break;
            }
            pos = (line_pos + len) % N;
            seq += 1;
        }
        ReadResult {
            bytes,
            next_seq: seq,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Reads everything from `from` with a large buffer, returning the text and the result.
    fn read_all<const N: usize>(ring: &LogRing<N>, from: u64) -> (String, ReadResult) {
        let mut out = vec![0; 1 << 16];
        let r = ring.read(from, &mut out);
        (String::from_utf8(out[..r.bytes].to_vec()).unwrap(), r)
    }

    #[test]
    fn empty_ring() {
        const RING: LogRing<64> = LogRing::new();
        assert!(RING.is_empty());
        assert_eq!(
            (RING.first_seq(), RING.next_seq(), RING.dropped_total()),
            (0, 0, 0)
        );
        let (text, r) = read_all(&RING, 0);
        assert_eq!(text, "");
        assert_eq!(
            r,
            ReadResult {
                bytes: 0,
                next_seq: 0,
                dropped: 0
            }
        );
    }

    #[test]
    fn lines_come_back_with_newlines() {
        let mut ring = LogRing::<64>::new();
        ring.push(b"hello");
        ring.push(b"world\n");
        ring.push(b"");
        let (text, r) = read_all(&ring, 0);
        assert_eq!(text, "hello\nworld\n\n");
        assert_eq!(
            r,
            ReadResult {
                bytes: 13,
                next_seq: 3,
                dropped: 0
            }
        );
        let (text, r) = read_all(&ring, 1);
        assert_eq!(text, "world\n\n");
        assert_eq!(r.next_seq, 3);
        // Only one trailing newline is stripped.
        ring.push(b"x\n\n");
        assert_eq!(read_all(&ring, 3).0, "x\n\n");
    }

    #[test]
    fn max_line_len_accounts_for_prefix() {
        assert_eq!(LogRing::<0>::max_line_len(), 0);
        assert_eq!(LogRing::<1>::max_line_len(), 0);
        assert_eq!(LogRing::<16>::max_line_len(), 15);
        assert_eq!(LogRing::<128>::max_line_len(), 127);
        // 128 payload bytes need a two-byte prefix: 130 > 129.
        assert_eq!(LogRing::<129>::max_line_len(), 127);
        assert_eq!(LogRing::<130>::max_line_len(), 128);
        assert_eq!(LogRing::<200>::max_line_len(), 198);
    }

    #[test]
    fn exact_fit_and_truncation() {
        let mut ring = LogRing::<16>::new();
        ring.push(b"0123456789abcde");
        assert_eq!(read_all(&ring, 0).0, "0123456789abcde\n");
        ring.push(b"fedcba9876543210-too-long");
        assert_eq!(ring.first_seq(), 1);
        assert_eq!(ring.dropped_total(), 1);
        assert_eq!(read_all(&ring, 1).0, "fedcba987654321\n");
    }

    #[test]
    fn two_byte_prefix_lines() {
        let mut ring = LogRing::<300>::new();
        let long = vec![b'a'; 200];
        ring.push(&long);
        ring.push(b"short");
        let (text, r) = read_all(&ring, 0);
        assert_eq!(text, format!("{}\nshort\n", "a".repeat(200)));
        assert_eq!(r.next_seq, 2);
        ring.push(&long);
        let (text, r) = read_all(&ring, 0);
        assert_eq!(text, format!("short\n{}\n", "a".repeat(200)));
        assert_eq!(r.dropped, 1);
    }

    #[test]
    fn zero_sized_ring_counts_and_drops() {
        let mut ring = LogRing::<0>::new();
        ring.push(b"lost");
        ring.push(b"lost too");
        assert!(ring.is_empty());
        assert_eq!(
            (ring.first_seq(), ring.next_seq(), ring.dropped_total()),
            (2, 2, 2)
        );
        assert_eq!(
            read_all(&ring, 0).1,
            ReadResult {
                bytes: 0,
                next_seq: 2,
                dropped: 2
            }
        );
    }

    #[test]
    fn reader_falling_behind() {
        let mut ring = LogRing::<32>::new();
        for i in 0..10 {
            ring.push(format!("line {i}").as_bytes());
        }
        // Each record is 7 bytes, so four fit in 32.
        assert_eq!(ring.first_seq(), 6);
        assert_eq!(ring.dropped_total(), 6);
        let (text, r) = read_all(&ring, 2);
        assert_eq!(text, "line 6\nline 7\nline 8\nline 9\n");
        assert_eq!(
            r,
            ReadResult {
                bytes: 28,
                next_seq: 10,
                dropped: 4
            }
        );
        // Caught up: nothing more to read, nothing dropped.
        assert_eq!(
            read_all(&ring, 10).1,
            ReadResult {
                bytes: 0,
                next_seq: 10,
                dropped: 0
            }
        );
        // A sequence number from the future reads nothing and resyncs.
        assert_eq!(
            read_all(&ring, 99).1,
            ReadResult {
                bytes: 0,
                next_seq: 10,
                dropped: 0
            }
        );
    }

    #[test]
    fn small_output_buffers_resume_by_sequence() {
        let mut ring = LogRing::<64>::new();
        ring.push(b"aaa");
        ring.push(b"bb");
        ring.push(b"c");
        let mut out = [0; 7];
        let r = ring.read(0, &mut out);
        assert_eq!(&out[..r.bytes], b"aaa\nbb\n");
        assert_eq!(r.next_seq, 2);
        let r = ring.read(r.next_seq, &mut out);
        assert_eq!(&out[..r.bytes], b"c\n");
        assert_eq!(r.next_seq, 3);
        // A line that is exactly one byte too big for the buffer is cut, never stuck.
        let mut tiny = [0; 3];
        let r = ring.read(0, &mut tiny);
        assert_eq!(&tiny[..r.bytes], b"aa\n");
        assert_eq!(r.next_seq, 1);
        // An empty buffer reads nothing and does not advance.
        let r = ring.read(1, &mut []);
        assert_eq!(
            r,
            ReadResult {
                bytes: 0,
                next_seq: 1,
                dropped: 0
            }
        );
        // One byte of room is only enough for the newline.
        let r = ring.read(1, &mut tiny[..1]);
        assert_eq!((r.bytes, tiny[0], r.next_seq), (1, b'\n', 2));
    }

    /// Checks the ring against a straightforward model through many wrap-arounds.
    fn check_against_model<const N: usize>(lines: usize) {
        let mut ring = LogRing::<N>::new();
        let mut model: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut model_used = 0;
        let mut dropped = 0;
        for i in 0..lines {
            let mut line = format!("{i}:").into_bytes();
            line.resize(line.len() + (i * 7919) % (N + 20), b'a' + (i % 26) as u8);
            ring.push(&line);
            line.truncate(LogRing::<N>::max_line_len());
            let record = varint_len(line.len()) + line.len();
            while N - model_used < record {
                let (_, old) = model.pop_front().unwrap();
                model_used -= varint_len(old.len()) + old.len();
                dropped += 1;
            }
            model_used += record;
            model.push_back((i as u64, line));
            assert_eq!(ring.first_seq(), model[0].0);
            assert_eq!(ring.next_seq(), i as u64 + 1);
            assert_eq!(ring.dropped_total(), dropped);
            let expected: Vec<u8> = model
                .iter()
                .flat_map(|(_, l)| l.iter().copied().chain([b'\n']))
                .collect();
            let mut out = vec![0; expected.len() + 3];
            let r = ring.read(0, &mut out);
            assert_eq!(&out[..r.bytes], &expected[..], "after line {i}");
            assert_eq!(r.next_seq, i as u64 + 1);
            assert_eq!(r.dropped, model[0].0);
        }
    }

    #[test]
    fn wraps_around_many_times() {
        check_against_model::<16>(500);
        check_against_model::<61>(1000);
        check_against_model::<256>(1000);
    }

    #[test]
    fn incremental_reader_sees_every_line_once() {
        let mut ring = LogRing::<128>::new();
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut out = [0; 40];
        for i in 0..300 {
            ring.push(format!("msg {i}").as_bytes());
            if i % 3 == 0 {
                loop {
                    let r = ring.read(cursor, &mut out);
                    assert_eq!(r.dropped, 0);
                    if r.bytes == 0 {
                        break;
                    }
                    seen.extend_from_slice(&out[..r.bytes]);
                    cursor = r.next_seq;
                }
            }
        }
        let (tail, _) = read_all(&ring, cursor);
        seen.extend_from_slice(tail.as_bytes());
        let expected: String = (0..300).map(|i| format!("msg {i}\n")).collect();
        assert_eq!(String::from_utf8(seen).unwrap(), expected);
    }
}
