//! `sh`: Keel's shell. Interactive on a tty (raw mode, its own line editor, history), or reading
//! commands from stdin (`sh < script`), from a file (`sh SCRIPT`) or from `-c COMMAND`.
//!
//! `Ctrl-D` on an empty line does nothing; leave with `exit`. Children get the shell's
//! environment and no capabilities; built-ins run with the shell's.
#![no_std]
#![no_main]

extern crate alloc;

mod builtins;
mod exec;
mod term;

use alloc::string::String;
use alloc::vec::Vec;
use keel_user::io::{self, STDIN, STDOUT};
use keel_user::{eprintln, fs, process, Args};
use sh::lineedit::{Editor, Event};

keel_user::main!(main);

/// The shell's state.
pub struct Shell {
    /// The terminal when interactive.
    pub term: Option<term::Term>,
    /// The line editor (and history).
    pub editor: Editor,
    /// Status of the last command.
    pub last_status: i32,
    /// Set by `exit`.
    pub exit: Option<i32>,
    /// Background processes not yet reaped.
    pub jobs: Vec<process::Pid>,
}

fn main(args: Args) -> i32 {
    let args: Vec<&str> = args.skip(1).collect();
    let mut sh = Shell {
        term: None,
        editor: Editor::new(),
        last_status: 0,
        exit: None,
        jobs: Vec::new(),
    };
    match args.as_slice() {
        ["-c", cmd, ..] => exec::run_line(&mut sh, cmd),
        ["-c"] => {
            eprintln!("sh: -c: option requires an argument");
            2
        }
        [script, ..] => match fs::File::open(script) {
            Ok(f) => run_stream(&mut sh, f.fd()),
            Err(e) => {
                eprintln!("sh: {script}: {e}");
                127
            }
        },
        [] => match term::Term::open(STDIN) {
            Some(t) => {
                sh.term = Some(t);
                interactive(&mut sh)
            }
            None => run_stream(&mut sh, STDIN),
        },
    }
}

/// Runs every line read from `fd` until its end or `exit`.
fn run_stream(sh: &mut Shell, fd: io::Fd) -> i32 {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = match io::read(fd, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("sh: read: {e}");
                0
            }
        };
        if n == 0 {
            if !pending.is_empty() {
                let line = String::from_utf8_lossy(&pending).into_owned();
                exec::run_line(sh, &line);
            }
            return sh.exit.unwrap_or(sh.last_status);
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line[..pos]).into_owned();
            exec::run_line(sh, &line);
            if let Some(code) = sh.exit {
                return code;
            }
        }
    }
}

fn prompt() {
    let cwd = fs::getcwd().unwrap_or_else(|_| String::from("?"));
    keel_user::print!("{cwd} # ");
}

/// The interactive loop. The terminal stays raw (no echo, no Ctrl-C signal) while the shell edits
/// a line and runs built-ins, so Ctrl-C never kills the shell itself; it is cooked only while a
/// foreground program runs (see `exec`).
fn interactive(sh: &mut Shell) -> i32 {
    // One byte per read: bytes typed after Enter stay in the terminal for the command the line
    // runs, or for the next line, instead of being read here and dropped.
    let mut buf = [0u8; 1];
    let mut echo: Vec<u8> = Vec::new();
    // Bytes read after the end of a line: typed ahead, they begin the next one.
    let mut ahead: Vec<u8> = Vec::new();
    loop {
        exec::reap_jobs(sh);
        if let Some(t) = &sh.term {
            t.raw();
        }
        prompt();
        let line = 'edit: loop {
            let n = if ahead.is_empty() {
                match io::read(STDIN, &mut buf) {
                    Ok(0) => {
                        // The terminal went away.
                        if let Some(t) = &sh.term {
                            t.cooked();
                        }
                        return sh.last_status;
                    }
                    Ok(n) => n,
                    Err(_) => continue,
                }
            } else {
                let n = ahead.len().min(buf.len());
                buf[..n].copy_from_slice(&ahead[..n]);
                ahead.drain(..n);
                n
            };
            for (i, &b) in buf[..n].iter().enumerate() {
                let ev = sh.editor.feed(b, &mut echo);
                let _ = io::write_all(STDOUT, &echo);
                echo.clear();
                match ev {
                    Event::None => {}
                    Event::Cancel => {
                        prompt();
                    }
                    Event::Line(l) => {
                        // Keep what follows, in front of anything still kept.
                        ahead.splice(0..0, buf[i + 1..n].iter().copied());
                        break 'edit l;
                    }
                }
            }
        };
        exec::run_line(sh, &line);
        if let Some(code) = sh.exit {
            if let Some(t) = &sh.term {
                t.cooked();
            }
            return code;
        }
    }
}
