//! Interactive boots: type into Keel's serial console and read what comes back.
//!
//! A [`Session`] starts QEMU with the serial port on piped stdin/stdout, collects the output on a
//! thread, and lets a test wait for text ([`Session::expect`]) and run shell commands
//! ([`Session::run`]). Every wait has a generous wall-clock limit; a missed expectation fails the
//! test with the whole serial log. [`Session::finish`] waits for QEMU to exit and returns the
//! [`Outcome`], so a test ends on QEMU's exit status (a clean power-off is status 0).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::outcome::Outcome;
use crate::qemu::{Qemu, QEMU};

/// The end of the shell's prompt (`CWD # `).
pub const PROMPT: &str = "# ";
/// How long a boot to the first prompt may take.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A running QEMU whose console the test drives.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Receiver<Vec<u8>>,
    log: String,
    /// Where the next [`Session::expect`] starts looking.
    cursor: usize,
    command: String,
    started: Instant,
    monitor: Option<PathBuf>,
}

impl Session {
    /// Boots `qemu` (its own timeout is ignored; each wait has its own).
    pub fn start(qemu: &Qemu) -> Session {
        let command = qemu.command_line();
        let mut child = Command::new(QEMU)
            .args(qemu.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start `{command}`: {e} (install QEMU: `sudo cargo xtask setup`)")
            });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (tx, output) = channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session {
            stdin: child.stdin.take(),
            child,
            output,
            log: String::new(),
            cursor: 0,
            command,
            started: Instant::now(),
            monitor: qemu.monitor_path().map(PathBuf::from),
        }
    }

    /// Sends `command` to QEMU's monitor (the boot needs [`Qemu::monitor_socket`]) and returns
    /// what the monitor answered within a moment.
    pub fn monitor(&mut self, command: &str) -> String {
        let Some(path) = self.monitor.clone() else {
            self.fail(
                "the test sent a monitor command, but QEMU was started without a monitor socket",
            );
        };
        let result = (|| -> std::io::Result<String> {
            let mut socket = UnixStream::connect(&path)?;
            socket.set_read_timeout(Some(Duration::from_millis(500)))?;
            socket.write_all(format!("{command}\n").as_bytes())?;
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            // The monitor greets, echoes and answers, then waits for more: read until quiet.
            while let Ok(n) = socket.read(&mut buf) {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
            Ok(String::from_utf8_lossy(&answer).into_owned())
        })();
        match result {
            Ok(answer) => answer,
            Err(e) => self.fail(&format!(
                "cannot send {command:?} to the QEMU monitor at {}: {e}",
                path.display()
            )),
        }
    }

    /// Everything the console printed so far.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// Fails the test with `message`, QEMU's command line and the whole serial log.
    pub fn fail(&mut self, message: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drain(Duration::from_millis(200));
        panic!(
            "{message}\n--- QEMU: {}\n--- after {:.1} s, serial output:\n{}\n--- end of serial output",
            self.command,
            self.started.elapsed().as_secs_f64(),
            self.log
        );
    }

    fn drain(&mut self, wait: Duration) -> bool {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => {
                self.log
                    .push_str(&String::from_utf8_lossy(&bytes).replace('\r', ""));
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Waits until `needle` appears after what earlier expectations consumed; returns the text
    /// from there up to and including it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.log[self.cursor..].find(needle) {
                let start = self.cursor;
                self.cursor += at + needle.len();
                return self.log[start..self.cursor].to_string();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.fail(&format!(
                    "timed out after {timeout:?} waiting for {needle:?}"
                ));
            }
            if !self.drain(left.min(Duration::from_millis(100))) {
                self.fail(&format!("QEMU exited while the test waited for {needle:?}"));
            }
        }
    }

    /// Waits until init has started the shell and the shell prompts (init's message and the
    /// shell's first prompt may come in either order; [`Session::run`] anchors on the echoed
    /// command, so a prompt left over is harmless).
    pub fn wait_for_shell(&mut self) {
        self.expect("init: started /bin/sh", BOOT_TIMEOUT);
        self.send_line("");
        self.expect(PROMPT, BOOT_TIMEOUT);
    }

    /// Types `text` followed by Enter.
    pub fn send_line(&mut self, text: &str) {
        self.send(format!("{text}\r").as_bytes());
    }

    /// Types raw bytes (for example Ctrl-C, `\x03`).
    pub fn send(&mut self, bytes: &[u8]) {
        let ok = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(bytes).and_then(|()| stdin.flush()).is_ok(),
            None => false,
        };
        if !ok {
            self.fail(&format!(
                "could not type {:?}: QEMU's stdin is closed",
                String::from_utf8_lossy(bytes)
            ));
        }
        // The guest's UART takes input at line speed; give it a moment between lines.
        thread::sleep(Duration::from_millis(30));
    }

    /// Runs a shell command and returns its output (the lines between the echoed command and the
    /// next prompt).
    pub fn run(&mut self, command: &str) -> String {
        self.send_line(command);
        self.expect(&format!("{command}\n"), COMMAND_TIMEOUT);
        let text = self.expect(PROMPT, COMMAND_TIMEOUT);
        // Drop the prompt's working-directory part.
        match text.rfind('\n') {
            Some(end) => text[..=end].to_string(),
            None => String::new(),
        }
    }

    /// Runs a command and fails the test unless its output contains every needle.
    pub fn run_expecting(&mut self, command: &str, needles: &[&str]) -> String {
        let out = self.run(command);
        for needle in needles {
            if !out.contains(needle) {
                self.fail(&format!(
                    "`{command}` printed {out:?}, which lacks {needle:?}"
                ));
            }
        }
        out
    }

    /// Closes stdin and waits (up to `timeout`) for QEMU to exit; returns the outcome with the
    /// whole serial log.
    pub fn finish(mut self, timeout: Duration) -> Outcome {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    self.drain(Duration::from_millis(50));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    timed_out = true;
                    break None;
                }
            }
        };
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(100)) {
            self.log
                .push_str(&String::from_utf8_lossy(&bytes).replace('\r', ""));
        }
        Outcome {
            status,
            output: self.log.clone(),
            timed_out,
            stderr: String::new(),
            command: self.command.clone(),
            elapsed: self.started.elapsed(),
            timeout,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
