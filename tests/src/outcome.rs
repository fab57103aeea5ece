//! What one QEMU boot did, and the checks tests make on it; every failure prints the whole log.

use std::time::Duration;

use keel_abi::test_exit;

use crate::log;

/// The result of [`Qemu::run`](crate::Qemu::run).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// QEMU's exit status; `None` if it was killed (timeout) or died from a signal.
    pub status: Option<i32>,
    /// Everything the kernel wrote to the serial console.
    pub output: String,
    /// Whether QEMU was killed because it ran past the timeout.
    pub timed_out: bool,
    /// QEMU's own messages (standard error).
    pub stderr: String,
    /// The QEMU command line.
    pub command: String,
    /// How long QEMU ran.
    pub elapsed: Duration,
    /// The timeout it ran under.
    pub timeout: Duration,
}

/// Names an exit status the way the kernel's test protocol means it.
fn describe_status(status: Option<i32>) -> String {
    match status.map(u8::try_from) {
        Some(Ok(code)) => format!("{code} ({})", test_exit::name(code)),
        Some(Err(_)) => format!("{}", status.unwrap_or_default()),
        None => "no status (killed by a signal)".to_string(),
    }
}

impl Outcome {
    /// The command, how it ended, the serial log and QEMU's messages, for failure messages.
    pub fn report(&self) -> String {
        let ending = if self.timed_out {
            format!("killed after the {:?} timeout", self.timeout)
        } else {
            format!(
                "exited with {} after {:.1?}",
                describe_status(self.status),
                self.elapsed
            )
        };
        let mut report = format!(
            "QEMU {ending}\ncommand: {}\n----- serial output -----\n{}",
            self.command, self.output
        );
        if !self.output.ends_with('\n') {
            report.push('\n');
        }
        report.push_str("----- end of serial output -----");
        if !self.stderr.trim().is_empty() {
            report.push_str("\n----- QEMU messages -----\n");
            report.push_str(self.stderr.trim_end());
        }
        report
    }

    /// Fails the test with `message` and the full report.
    #[track_caller]
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.report())
    }

    /// Checks that QEMU exited on its own with `expected`.
    #[track_caller]
    pub fn assert_exit(&self, expected: u8) {
        if self.timed_out {
            self.fail(&format!(
                "expected QEMU to exit with {} but it was still running after {:?}",
                describe_status(Some(expected.into())),
                self.timeout
            ));
        }
        if self.status != Some(expected.into()) {
            self.fail(&format!(
                "expected QEMU to exit with {}, it exited with {}",
                describe_status(Some(expected.into())),
                describe_status(self.status)
            ));
        }
    }

    /// Checks that the serial output contains `needle` anywhere.
    #[track_caller]
    pub fn assert_output_contains(&self, needle: &str) {
        if !self.output.contains(needle) {
            self.fail(&format!("the serial output does not contain {needle:?}"));
        }
    }

    /// Checks that a log line of `subsys` has `needle` in its message
    /// (`[ssss.uuuuuu] LEVEL subsys: ...needle...`).
    #[track_caller]
    pub fn assert_log(&self, subsys: &str, needle: &str) {
        let found =
            log::lines(&self.output).any(|l| l.subsys == subsys && l.message.contains(needle));
        if !found {
            self.fail(&format!(
                "no log line `[ssss.uuuuuu] LEVEL {subsys}: ...{needle}...` in the serial output"
            ));
        }
    }

    /// Checks that some log line, of any subsystem, has `needle` in its message.
    #[track_caller]
    pub fn assert_any_log(&self, needle: &str) {
        if !log::lines(&self.output).any(|l| l.message.contains(needle)) {
            self.fail(&format!("no log line mentions {needle:?}"));
        }
    }

    /// Checks for the in-kernel test summary `ktest: N passed, 0 failed` with N > 0.
    #[track_caller]
    pub fn assert_ktest_summary(&self) {
        let summary = log::lines(&self.output)
            .filter(|l| l.subsys == "ktest")
            .find_map(|l| log::summary(l.message));
        match summary {
            Some((passed, 0)) if passed > 0 => {}
            Some((passed, failed)) => self.fail(&format!(
                "the in-kernel test summary says {passed} passed, {failed} failed"
            )),
            None => self.fail("no in-kernel test summary `ktest: N passed, M failed`"),
        }
    }

    /// Checks for a Rust source location `file.rs:LINE` in the output (as a panic message has).
    #[track_caller]
    pub fn assert_source_location(&self) {
        let found = self.output.match_indices(".rs:").any(|(at, _)| {
            self.output[at + 4..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        });
        if !found {
            self.fail("the serial output names no source location `file.rs:LINE`");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Option<i32>, output: &str) -> Outcome {
        Outcome {
            status,
            output: output.to_string(),
            timed_out: status.is_none(),
            stderr: String::new(),
            command: "qemu-system-aarch64 -M virt".to_string(),
            elapsed: Duration::from_millis(1500),
            timeout: Duration::from_secs(120),
        }
    }

    const LOG: &str = "[0000.000010] INFO keel: Keel 0.1.0 booting\n\
                       [0000.000020] INFO mm: RAM 1024 MiB\n\
                       [0000.000900] INFO ktest: 14 passed, 0 failed\n\
                       panicked at kernel/src/main.rs:42:5\n";

    #[test]
    fn a_good_run_passes_every_check() {
        let run = outcome(Some(0), LOG);
        run.assert_exit(test_exit::PASS);
        run.assert_log("mm", "RAM 1024 MiB");
        run.assert_any_log("Keel");
        run.assert_ktest_summary();
        run.assert_source_location();
        run.assert_output_contains("panicked at");
    }

    #[test]
    #[should_panic(
        expected = "expected QEMU to exit with 0 (pass), it exited with 2 (kernel fault)"
    )]
    fn a_wrong_status_fails_with_both_names() {
        outcome(Some(2), LOG).assert_exit(test_exit::PASS);
    }

    #[test]
    #[should_panic(expected = "still running")]
    fn a_timeout_fails() {
        outcome(None, LOG).assert_exit(test_exit::PASS);
    }

    #[test]
    #[should_panic(expected = "no log line `[ssss.uuuuuu] LEVEL mm: ...RAM 960 MiB...`")]
    fn a_missing_line_fails() {
        outcome(Some(0), LOG).assert_log("mm", "RAM 960 MiB");
    }

    #[test]
    fn the_report_holds_the_whole_log() {
        let report = outcome(Some(1), LOG).report();
        assert!(report.contains("exited with 1 (fail)"));
        assert!(report.contains(LOG));
        assert!(report.contains("command: qemu-system-aarch64 -M virt"));
    }
}
