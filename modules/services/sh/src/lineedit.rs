//! The line editor: turns the bytes typed on a raw-mode terminal into lines, echoing and
//! redrawing with VT100 escape sequences.
//!
//! Keys: printable ASCII inserts at the cursor; Backspace (0x7f, 0x08) deletes before it; Delete
//! (`ESC [ 3 ~`) and Ctrl-D delete under it; Left/Right (`ESC [ D`/`ESC [ C`) move; Up/Down walk
//! the history; Home/End and Ctrl-A/Ctrl-E jump; Ctrl-U kills to the start, Ctrl-K to the end;
//! Ctrl-C drops the line; Enter (CR or LF; a CR LF pair counts once) ends it. Ctrl-D on an empty
//! line does nothing (the shell leaves with `exit`). Other control bytes and non-ASCII bytes
//! are ignored.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Lines kept in the history.
pub const HISTORY: usize = 32;

/// What a byte of input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing to act on yet (the line is still being edited).
    None,
    /// The user pressed Enter: the line (also added to the history when not blank).
    Line(String),
    /// The user pressed Ctrl-C: the line was dropped.
    Cancel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Esc {
    /// Not in an escape sequence.
    None,
    /// After ESC.
    Start,
    /// After `ESC [` or `ESC O`, with the numeric parameter so far.
    Csi(u16),
}

/// The editor's state: the line, the cursor, the history.
#[derive(Clone, Debug)]
pub struct Editor {
    line: Vec<u8>,
    cursor: usize,
    esc: Esc,
    last_cr: bool,
    history: VecDeque<String>,
    /// Position in the history while walking it (`history.len()` = the line being typed).
    hist_pos: usize,
    /// The line being typed, saved while walking the history.
    saved: Vec<u8>,
}

impl Default for Editor {
    fn default() -> Self {
        Self::new()
    }
}

impl Editor {
    /// An empty editor with an empty history.
    pub fn new() -> Editor {
        Editor {
            line: Vec::new(),
            cursor: 0,
            esc: Esc::None,
            last_cr: false,
            history: VecDeque::new(),
            hist_pos: usize::MAX,
            saved: Vec::new(),
        }
    }

    /// The line being edited.
    pub fn line(&self) -> &str {
        core::str::from_utf8(&self.line).unwrap_or("")
    }

    /// The cursor's position in the line.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// Adds a line to the history (blank lines and repeats of the last line are skipped).
    pub fn add_history(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(String::from(line));
    }

    /// Feeds one byte; appends what to write to the terminal to `out`.
    pub fn feed(&mut self, b: u8, out: &mut Vec<u8>) -> Event {
        let after_cr = core::mem::replace(&mut self.last_cr, false);
        match self.esc {
            Esc::Start => {
                self.esc = match b {
                    b'[' | b'O' => Esc::Csi(0),
                    _ => Esc::None,
                };
                return Event::None;
            }
            Esc::Csi(n) => {
                match b {
                    b'0'..=b'9' => {
                        self.esc = Esc::Csi(n.saturating_mul(10).saturating_add((b - b'0') as u16));
                        return Event::None;
                    }
                    b';' => return Event::None,
                    _ => {}
                }
                self.esc = Esc::None;
                match (b, n) {
                    (b'A', _) => self.history_step(-1, out),
                    (b'B', _) => self.history_step(1, out),
                    (b'C', _) => self.right(out),
                    (b'D', _) => self.left(out),
                    (b'H', _) | (b'~', 1) | (b'~', 7) => self.home(out),
                    (b'F', _) | (b'~', 4) | (b'~', 8) => self.end(out),
                    (b'~', 3) => self.delete(out),
                    _ => {}
                }
                return Event::None;
            }
            Esc::None => {}
        }
        match b {
            0x1b => self.esc = Esc::Start,
            b'\r' | b'\n' => {
                if b == b'\n' && after_cr {
                    return Event::None;
                }
                self.last_cr = b == b'\r';
                out.extend_from_slice(b"\r\n");
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.reset();
                self.add_history(&line);
                return Event::Line(line);
            }
            0x03 => {
                out.extend_from_slice(b"^C\r\n");
                self.reset();
                return Event::Cancel;
            }
            0x7f | 0x08 => self.backspace(out),
            0x04 => self.delete(out),
            0x01 => self.home(out),
            0x05 => self.end(out),
            0x02 => self.left(out),
            0x06 => self.right(out),
            0x10 => self.history_step(-1, out),
            0x0e => self.history_step(1, out),
            0x15 => self.kill_to_start(out),
            0x0b => self.kill_to_end(out),
            0x20..=0x7e => self.insert(b, out),
            _ => {}
        }
        Event::None
    }

    fn reset(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.esc = Esc::None;
        self.saved.clear();
        // Past the end: back at the line being typed, whatever the history's length.
        self.hist_pos = usize::MAX;
    }

    fn move_left(n: usize, out: &mut Vec<u8>) {
        match n {
            0 => {}
            1 => out.extend_from_slice(b"\x1b[D"),
            n => {
                let _ = write!(Bytes(out), "\x1b[{n}D");
            }
        }
    }

    fn move_right(n: usize, out: &mut Vec<u8>) {
        match n {
            0 => {}
            1 => out.extend_from_slice(b"\x1b[C"),
            n => {
                let _ = write!(Bytes(out), "\x1b[{n}C");
            }
        }
    }

    fn insert(&mut self, b: u8, out: &mut Vec<u8>) {
        self.line.insert(self.cursor, b);
        out.extend_from_slice(&self.line[self.cursor..]);
        self.cursor += 1;
        Self::move_left(self.line.len() - self.cursor, out);
    }

    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        self.line.remove(self.cursor);
        out.push(0x08);
        self.redraw_tail(1, out);
    }

    fn delete(&mut self, out: &mut Vec<u8>) {
        if self.cursor == self.line.len() {
            return;
        }
        self.line.remove(self.cursor);
        self.redraw_tail(1, out);
    }

    /// Rewrites the line from the cursor, blanks `erased` cells after it, and moves back.
    fn redraw_tail(&mut self, erased: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line[self.cursor..]);
        out.extend(core::iter::repeat_n(b' ', erased));
        Self::move_left(self.line.len() - self.cursor + erased, out);
    }

    fn left(&mut self, out: &mut Vec<u8>) {
        if self.cursor > 0 {
            self.cursor -= 1;
            Self::move_left(1, out);
        }
    }

    fn right(&mut self, out: &mut Vec<u8>) {
        if self.cursor < self.line.len() {
            self.cursor += 1;
            Self::move_right(1, out);
        }
    }

    fn home(&mut self, out: &mut Vec<u8>) {
        Self::move_left(self.cursor, out);
        self.cursor = 0;
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        Self::move_right(self.line.len() - self.cursor, out);
        self.cursor = self.line.len();
    }

    fn kill_to_start(&mut self, out: &mut Vec<u8>) {
        let n = self.cursor;
        if n == 0 {
            return;
        }
        Self::move_left(n, out);
        self.line.drain(..n);
        self.cursor = 0;
        self.redraw_tail(n, out);
    }

    fn kill_to_end(&mut self, out: &mut Vec<u8>) {
        let n = self.line.len() - self.cursor;
        self.line.truncate(self.cursor);
        self.redraw_tail(n, out);
    }

    /// Replaces the whole line on screen with `new`, cursor at its end.
    fn replace_line(&mut self, new: Vec<u8>, out: &mut Vec<u8>) {
        Self::move_left(self.cursor, out);
        out.extend_from_slice(&new);
        out.extend_from_slice(b"\x1b[K");
        self.cursor = new.len();
        self.line = new;
    }

    fn history_step(&mut self, dir: isize, out: &mut Vec<u8>) {
        let len = self.history.len();
        let pos = if self.hist_pos > len {
            len
        } else {
            self.hist_pos
        };
        let new = match dir {
            -1 if pos > 0 => pos - 1,
            1 if pos < len => pos + 1,
            _ => return,
        };
        if pos == len {
            self.saved = self.line.clone();
        }
        self.hist_pos = new;
        let text = if new == len {
            core::mem::take(&mut self.saved)
        } else {
            self.history[new].as_bytes().to_vec()
        };
        self.replace_line(text, out);
    }
}

/// Lets `write!` append to a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(ed: &mut Editor, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
        let mut out = Vec::new();
        let events = input
            .iter()
            .map(|&b| ed.feed(b, &mut out))
            .filter(|e| *e != Event::None)
            .collect();
        (events, out)
    }

    fn line(s: &str) -> Event {
        Event::Line(String::from(s))
    }

    #[test]
    fn typing_echoes_and_enter_returns_the_line() {
        let mut ed = Editor::new();
        let (ev, out) = feed(&mut ed, b"ls -l\r");
        assert_eq!(ev, [line("ls -l")]);
        assert_eq!(out, b"ls -l\r\n");
    }

    #[test]
    fn crlf_counts_once_and_lf_alone_works() {
        let mut ed = Editor::new();
        let (ev, _) = feed(&mut ed, b"a\r\nb\n\n");
        assert_eq!(ev, [line("a"), line("b"), line("")]);
    }

    #[test]
    fn backspace_both_codes() {
        let mut ed = Editor::new();
        let (ev, out) = feed(&mut ed, b"abc\x7f\x08d\r");
        assert_eq!(ev, [line("ad")]);
        assert!(out.starts_with(b"abc\x08 \x1b[D\x08 \x1b[Dd"));
        // Backspace on an empty line does nothing.
        let (ev, out) = feed(&mut ed, b"\x7f\r");
        assert_eq!(ev, [line("")]);
        assert_eq!(out, b"\r\n");
    }

    #[test]
    fn insertion_in_the_middle() {
        let mut ed = Editor::new();
        let (ev, out) = feed(&mut ed, b"ac\x1b[DB\x1b[Cd\r");
        assert_eq!(ev, [line("aBcd")]);
        // Inserting before "c" rewrites "Bc" and steps back over "c".
        assert!(out
            .windows(6)
            .any(|w| w == b"Bc\x1b[D" as &[u8] || w.starts_with(b"Bc\x1b[D")));
    }

    #[test]
    fn home_end_and_kill() {
        let mut ed = Editor::new();
        let (ev, _) = feed(&mut ed, b"world\x01hello \x05!\r");
        assert_eq!(ev, [line("hello world!")]);
        let (ev, _) = feed(&mut ed, b"abcdef\x1b[D\x1b[D\x0b\r");
        assert_eq!(ev, [line("abcd")]);
        let (ev, _) = feed(&mut ed, b"abcdef\x1b[D\x1b[D\x15\r");
        assert_eq!(ev, [line("ef")]);
        let (ev, _) = feed(&mut ed, b"abc\x1b[H\x1b[3~\x1b[F.\x1b[1~>\x1b[4~<\r");
        assert_eq!(ev, [line(">bc.<")]);
    }

    #[test]
    fn delete_under_cursor_and_ctrl_d_on_empty_line() {
        let mut ed = Editor::new();
        let (ev, _) = feed(&mut ed, b"\x04abc\x01\x04\r");
        assert_eq!(ev, [line("bc")]);
    }

    #[test]
    fn ctrl_c_drops_the_line() {
        let mut ed = Editor::new();
        let (ev, out) = feed(&mut ed, b"rm all\x03ok\r");
        assert_eq!(ev, [Event::Cancel, line("ok")]);
        assert!(out.starts_with(b"rm all^C\r\n"));
        assert_eq!(ed.history().collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn history_walks_up_and_down_and_restores_the_typed_line() {
        let mut ed = Editor::new();
        feed(&mut ed, b"one\rtwo\rthree\r");
        let (ev, _) = feed(&mut ed, b"\x1b[A\x1b[A\r");
        assert_eq!(ev, [line("two")]);
        // Up past the oldest stays there; down past the newest gives back the typed line.
        let (ev, _) = feed(
            &mut ed,
            b"x\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B\r",
        );
        assert_eq!(ev, [line("x")]);
        let (ev, _) = feed(&mut ed, b"\x1bOA\r");
        assert_eq!(ev, [line("x")]);
        // History entries can be edited.
        let (ev, _) = feed(&mut ed, b"\x1b[A\x1b[A\x7f!\r");
        assert_eq!(ev, [line("tw!")]);
    }

    #[test]
    fn history_is_bounded_and_skips_repeats_and_blanks() {
        let mut ed = Editor::new();
        for i in 0..40 {
            let mut input = alloc::format!("c{i}\r").into_bytes();
            input.extend_from_slice(alloc::format!("c{i}\r  \r").as_bytes());
            feed(&mut ed, &input);
        }
        let h: Vec<_> = ed.history().collect();
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0], "c8");
        assert_eq!(h[HISTORY - 1], "c39");
    }

    #[test]
    fn history_replacement_clears_the_rest_of_the_screen_line() {
        let mut ed = Editor::new();
        feed(&mut ed, b"ab\r");
        let (_, out) = feed(&mut ed, b"long line\x1b[A");
        assert!(
            out.ends_with(b"\x1b[9Dab\x1b[K"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn ignores_other_control_and_non_ascii_bytes() {
        let mut ed = Editor::new();
        let (ev, _) = feed(&mut ed, b"a\x00\x07\tb\xc3\xa9\x1b[99Zc\r");
        assert_eq!(ev, [line("abc")]);
    }
}
