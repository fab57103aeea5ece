//! The terminal's modes: raw while the shell edits a line, cooked while a command runs.

use keel_abi::types::Termios;
use keel_user::io::Fd;
use keel_user::tty;

/// The controlling terminal (the shell's stdin).
pub struct Term {
    fd: Fd,
    base: Termios,
}

impl Term {
    /// The terminal on `fd`, or `None` when `fd` is not a tty.
    pub fn open(fd: Fd) -> Option<Term> {
        tty::get_termios(fd).ok().map(|base| Term { fd, base })
    }

    /// No echo, no line editing, no Ctrl-C: the shell sees every byte.
    pub fn raw(&self) {
        self.set_lflags(0);
    }

    /// Sets the local flags only: the line (baud rate, ...) stays as it is now, which `stty` may
    /// have changed since the shell started.
    fn set_lflags(&self, lflags: u32) {
        let current = tty::get_termios(self.fd).unwrap_or(self.base);
        let _ = tty::set_termios(self.fd, &Termios { lflags, ..current });
    }

    /// Echo, line editing and Ctrl-C (`ECHO | ICANON | ISIG`), for the commands the shell runs.
    pub fn cooked(&self) {
        self.set_lflags(tty::ECHO | tty::ICANON | tty::ISIG);
    }

    /// Makes `pid` the foreground process (Ctrl-C kills it).
    pub fn foreground(&self, pid: keel_user::process::Pid) {
        let _ = tty::set_foreground(self.fd, pid);
    }
}
