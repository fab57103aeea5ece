//! An interactive QEMU session: type into the serial console and wait for what comes back.
//!
//! [`Console::start`] boots a [`Qemu`] with the serial port on QEMU's standard input and output
//! (pipes); [`Console::send_line`] types a line, [`Console::expect`] waits for a text to appear
//! after everything already matched, and [`Console::run`] does both for one shell command. When
//! something does not appear in time the test fails with the whole serial log. QEMU is killed if
//! the session is dropped while it still runs; [`Console::wait_exit`] waits for it to end on its
//! own (after `poweroff`) and returns its exit status, which the test checks.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::qemu::{Qemu, QEMU};

/// The shell's prompt in the root directory.
pub const PROMPT: &str = "/ # ";

/// A running QEMU whose serial console the test drives.
pub struct Console {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    /// Everything the console printed so far.
    output: String,
    /// Where the next [`Console::expect`] starts looking.
    cursor: usize,
    command: String,
    started: Instant,
}

impl Console {
    /// Boots `qemu` with its serial console on pipes.
    pub fn start(qemu: &Qemu) -> Console {
        let command = qemu.command_line();
        let mut child = Command::new(QEMU)
            .args(qemu.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start `{command}`: {e}\n(install QEMU 9.0 or newer: `sudo cargo xtask setup`)")
            });
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Console {
            child,
            stdin,
            chunks,
            output: String::new(),
            cursor: 0,
            command,
            started: Instant::now(),
        }
    }

    /// Everything the console printed so far.
    pub fn output(&self) -> &str {
        &self.output
    }

    /// Fails the test with `message` and the whole serial log.
    #[track_caller]
    pub fn fail(&mut self, message: &str) -> ! {
        self.drain(Duration::from_millis(200));
        panic!(
            "{message}\ncommand: {}\nafter {:.1?}\n----- serial output -----\n{}\n----- end of serial output -----",
            self.command,
            self.started.elapsed(),
            self.output
        )
    }

    /// Takes in what arrives within `wait`.
    fn drain(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.output.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => break,
            }
        }
    }

    /// Types `line` and a newline into the console.
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        let sent = self.stdin.as_mut().map(|stdin| {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .and_then(|()| stdin.flush())
        });
        if !matches!(sent, Some(Ok(()))) {
            self.fail(&format!("could not type {line:?}: QEMU's input is closed"));
        }
    }

    /// Waits up to `timeout` for `text` to appear after the last match; returns what came
    /// between (the text included) and moves past it.
    #[track_caller]
    pub fn expect(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.output[self.cursor..].find(text) {
                let end = self.cursor + at + text.len();
                let seen = self.output[self.cursor..end].to_string();
                self.cursor = end;
                return seen;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                self.fail(&format!("{text:?} did not appear within {timeout:?}"));
            };
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.output.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    self.fail(&format!("QEMU ended ({status:?}) before {text:?} appeared"));
                }
            }
        }
    }

    /// Runs one shell command: types it, waits for the next prompt and returns what appeared
    /// until then (the echoed command line, the command's output and kernel log lines).
    #[track_caller]
    pub fn run(&mut self, command: &str, timeout: Duration) -> String {
        self.send_line(command);
        let out = self.expect(PROMPT, timeout);
        out[..out.len() - PROMPT.len()].to_string()
    }

    /// Closes QEMU's input and waits up to `timeout` for it to exit; returns its status (`None`
    /// if it had to be killed) and the whole serial log.
    pub fn wait_exit(mut self, timeout: Duration) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        self.drain(Duration::from_millis(300));
        (status, std::mem::take(&mut self.output))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // Only reached when a test fails or forgets `wait_exit`: never leave QEMU running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
