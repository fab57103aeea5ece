//! Terminal control: line modes and the foreground process.

use crate::fs;
use crate::io::Fd;
use crate::process::Pid;
use keel_abi::types::{Termios, TCGETS, TCSETS, TIOCSPGRP};

pub use keel_abi::types::{ECHO, ICANON, ISIG};

/// The line settings of the tty `fd` (`ENOTTY` when it is not a tty).
pub fn get_termios(fd: Fd) -> crate::Result<Termios> {
    let mut t = Termios::default();
    // SAFETY: TCGETS writes one `Termios` into `t`, a local.
    unsafe { fs::ioctl(fd, TCGETS, &mut t as *mut Termios as u64)? };
    Ok(t)
}

/// Sets the line settings of the tty `fd`.
pub fn set_termios(fd: Fd, t: &Termios) -> crate::Result<()> {
    // SAFETY: TCSETS reads one `Termios` from `t`.
    unsafe { fs::ioctl(fd, TCSETS, t as *const Termios as u64)? };
    Ok(())
}

/// Sets only the `lflags` ([`ECHO`] | [`ICANON`] | [`ISIG`] for cooked, 0 for raw).
pub fn set_lflags(fd: Fd, lflags: u32) -> crate::Result<()> {
    let mut t = get_termios(fd)?;
    t.lflags = lflags;
    set_termios(fd, &t)
}

/// Makes `pid` the foreground process of the tty `fd`: Ctrl-C (in [`ISIG`] mode) kills it.
pub fn set_foreground(fd: Fd, pid: Pid) -> crate::Result<()> {
    // SAFETY: TIOCSPGRP takes the pid by value and touches no user memory.
    unsafe { fs::ioctl(fd, TIOCSPGRP, pid as u64)? };
    Ok(())
}

/// Whether `fd` is a tty.
pub fn isatty(fd: Fd) -> bool {
    get_termios(fd).is_ok()
}
