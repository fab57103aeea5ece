//! The console tty (`/dev/console`): the serial console with a line discipline.
//!
//! Bytes arrive from the UART's interrupt and are processed at once, in the handler: in canonical
//! mode (`ICANON`) they are edited into a line (backspace erases, Enter completes it, Ctrl-D ends
//! input) and only whole lines are readable; in raw mode every byte is readable as it comes. `ECHO`
//! writes input back; `ISIG` makes Ctrl-C kill the foreground process (set with `TIOCSPGRP`) even
//! when it never reads. Output goes to the console with `\n` turned into `\r\n`.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::types::{FileKind, Stat, Termios, ECHO, ICANON, ISIG, TCGETS, TCSETS, TIOCSPGRP};
use keel_abi::Errno;
use keel_vfs::{wait_key_of, Node};
use spin::Once;

use crate::sync::IrqMutex;

/// Longest line kept in canonical mode; further bytes are dropped until Enter.
const LINE_MAX: usize = 1024;
/// Most unread bytes kept.
const INPUT_MAX: usize = 4096;

struct State {
    termios: Termios,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Bytes ready for `read`.
    ready: VecDeque<u8>,
    /// Ctrl-D on an empty line: the next read returns 0.
    eof: bool,
    /// The foreground process Ctrl-C kills.
    foreground: u32,
}

/// The console tty.
pub struct ConsoleTty {
    state: IrqMutex<State>,
}

static CONSOLE: Once<Arc<ConsoleTty>> = Once::new();

/// The console tty node (created on first use).
pub fn console() -> Arc<ConsoleTty> {
    CONSOLE
        .call_once(|| {
            Arc::new(ConsoleTty {
                state: IrqMutex::new(State {
                    termios: Termios::CONSOLE,
                    line: Vec::new(),
                    ready: VecDeque::new(),
                    eof: false,
                    foreground: 0,
                }),
            })
        })
        .clone()
}

/// Feeds received bytes to the console tty (called from the UART interrupt).
pub fn input(bytes: &[u8]) {
    let tty = console();
    let mut kill = None;
    let mut echo: Vec<u8> = Vec::new();
    {
        let mut s = tty.state.lock();
        let flags = s.termios.lflags;
        for &b in bytes {
            if flags & ISIG != 0 && b == 0x03 {
                s.line.clear();
                if flags & ECHO != 0 {
                    echo.extend_from_slice(b"^C\n");
                }
                if s.foreground != 0 {
                    kill = Some(s.foreground);
                }
                continue;
            }
            if flags & ICANON == 0 {
                if s.ready.len() < INPUT_MAX {
                    s.ready.push_back(b);
                }
                if flags & ECHO != 0 {
                    echo.push(b);
                }
                continue;
            }
            match b {
                0x7f | 0x08 => {
                    if s.line.pop().is_some() && flags & ECHO != 0 {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                b'\r' | b'\n' => {
                    s.line.push(b'\n');
                    let line = core::mem::take(&mut s.line);
                    if s.ready.len() + line.len() <= INPUT_MAX {
                        s.ready.extend(line);
                    }
                    if flags & ECHO != 0 {
                        echo.push(b'\n');
                    }
                }
                0x04 => {
                    if s.line.is_empty() {
                        s.eof = true;
                    } else {
                        let line = core::mem::take(&mut s.line);
                        s.ready.extend(line);
                    }
                }
                _ => {
                    if s.line.len() < LINE_MAX {
                        s.line.push(b);
                        if flags & ECHO != 0 {
                            echo.push(b);
                        }
                    }
                }
            }
        }
    }
    if !echo.is_empty() {
        crate::console::write_bytes(&echo);
    }
    if let Some(pid) = kill {
        if let Some(p) = crate::proc::get(pid) {
            p.kill_by_tty();
        }
    }
    keel_vfs::wake(wait_key_of(&*tty));
}

impl Node for ConsoleTty {
    fn kind(&self) -> FileKind {
        FileKind::CharDev
    }

    fn stat(&self) -> Stat {
        Stat {
            kind: FileKind::CharDev as u32,
            mode: 0o620,
            size: 0,
            ino: 1,
            rdev: (4 << 20) | 1,
            dev: 0,
        }
    }

    fn read_at(&self, _offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut s = self.state.lock();
        if s.ready.is_empty() {
            if s.eof {
                s.eof = false;
                return Ok(0);
            }
            crate::kstats::console_waited();
            return Err(Errno::EAGAIN);
        }
        let canonical = s.termios.lflags & ICANON != 0;
        let mut n = 0;
        while n < buf.len() {
            let Some(b) = s.ready.pop_front() else { break };
            buf[n] = b;
            n += 1;
            if canonical && b == b'\n' {
                break;
            }
        }
        Ok(n)
    }

    fn write_at(&self, _offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        // Only the `WRITE` system call writes to the console tty, holding no lock.
        crate::console::write_bytes_interruptible(buf);
        Ok(buf.len())
    }

    fn ioctl(&self, _file: keel_vfs::FileId, request: u64, arg: u64) -> Result<u64, Errno> {
        let p = crate::proc::current().ok_or(Errno::EPERM)?;
        match request {
            TCGETS => {
                let mut t = self.state.lock().termios;
                // Once a driver owns the console, the line settings are its.
                if let Some(line) = crate::console::backend().and_then(|d| d.tty_line().ok()) {
                    t = Termios {
                        lflags: t.lflags,
                        ..line
                    };
                }
                p.aspace.write_val(arg, &t)?;
                Ok(0)
            }
            TCSETS => {
                let t: Termios = p.aspace.read_val(arg)?;
                t.check()?;
                let current = self.state.lock().termios;
                match crate::console::backend() {
                    Some(driver) => {
                        let line = driver.tty_line()?;
                        if !t.same_line(&line) {
                            driver.tty_set_line(&Termios { lflags: 0, ..t })?;
                        }
                    }
                    // The built-in driver keeps the line the boot set up.
                    None if !t.same_line(&current) => return Err(Errno::EINVAL),
                    None => {}
                }
                let mut s = self.state.lock();
                // Leaving canonical mode hands over the half-typed line.
                if s.termios.lflags & ICANON != 0 && t.lflags & ICANON == 0 {
                    let line = core::mem::take(&mut s.line);
                    s.ready.extend(line);
                }
                s.termios = t;
                Ok(0)
            }
            TIOCSPGRP => {
                let pid = u32::try_from(arg).map_err(|_| Errno::EINVAL)?;
                if pid != 0 && crate::proc::get(pid).is_none() {
                    return Err(Errno::ESRCH);
                }
                self.state.lock().foreground = pid;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn is_seekable(&self) -> bool {
        false
    }

    fn wait_key(&self) -> Option<usize> {
        Some(wait_key_of(self))
    }
}
