//! Running host programs: shell-quoted command lines for messages, and errors that name the command.

use std::io::Write;
use std::process::{Command, ExitStatus, Stdio};

use crate::error::{Error, Result};

/// Quotes one word for a POSIX shell, leaving words made only of safe characters as they are.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Joins `words` into one shell-quoted command line.
pub fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shell-quoted command line of `cmd` (program and arguments, without environment).
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    quote_all(&words)
}

/// Says how a program ended, as a phrase: "exited with status 2", "was killed by signal 9".
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended abnormally".to_string(),
    }
}

fn spawn_error(cmd: &Command, source: std::io::Error) -> Error {
    Error::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
        hint: None,
    }
}

fn failed(what: &str, cmd: &Command, status: ExitStatus, stderr: &[u8]) -> Error {
    Error::CommandFailed {
        what: what.to_string(),
        command: describe(cmd),
        status: describe_status(status),
        stderr: String::from_utf8_lossy(stderr).into_owned(),
        hint: None,
    }
}

/// Runs `cmd` with the terminal attached; `what` says what it is for, in case it fails.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().map_err(|e| spawn_error(cmd, e))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(what, cmd, status, &[]))
    }
}

/// Runs `cmd` quietly and returns its standard output; its error output goes into the error.
pub fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut stderr = out.stderr;
        if stderr.is_empty() {
            stderr = out.stdout;
        }
        Err(failed(what, cmd, out.status, &stderr))
    }
}

/// Runs `cmd` quietly with `input` on its standard input; its error output goes into the error.
pub fn run_with_input(cmd: &mut Command, input: &[u8], what: &str) -> Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(cmd, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| spawn_error(cmd, e))?;
    }
    let out = child.wait_with_output().map_err(|e| spawn_error(cmd, e))?;
    if out.status.success() {
        Ok(())
    } else {
        let mut stderr = out.stderr;
        stderr.extend_from_slice(&out.stdout);
        Err(failed(what, cmd, out.status, &stderr))
    }
}

/// Runs `producer | consumer`, both quietly; fails if either side fails.
pub fn pipe(producer: &mut Command, consumer: &mut Command, what: &str) -> Result<()> {
    // The producer's error output goes straight to the terminal: capturing it as well could
    // deadlock once its pipe fills while the consumer is still being waited for.
    let mut first = producer
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(producer, e))?;
    let Some(stream) = first.stdout.take() else {
        return Err(spawn_error(
            producer,
            std::io::Error::other("its output could not be captured"),
        ));
    };
    let second = consumer
        .stdin(stream)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let second = match second {
        Ok(child) => child,
        Err(e) => {
            // Reap the producer; its failure (a broken pipe) is a consequence, not the cause.
            let _ = first.kill();
            let _ = first.wait();
            return Err(spawn_error(consumer, e));
        }
    };
    let second_out = second
        .wait_with_output()
        .map_err(|e| spawn_error(consumer, e))?;
    let first_status = first.wait().map_err(|e| spawn_error(producer, e))?;
    if !first_status.success() {
        return Err(failed(what, producer, first_status, &[]));
    }
    if !second_out.status.success() {
        return Err(failed(
            what,
            consumer,
            second_out.status,
            &second_out.stderr,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_words_stay_bare() {
        assert_eq!(quote("-M"), "-M");
        assert_eq!(quote("virt,dtb-randomness=off"), "virt,dtb-randomness=off");
        assert_eq!(
            quote("target/dist/rpi4/kernel8.img"),
            "target/dist/rpi4/kernel8.img"
        );
    }

    #[test]
    fn other_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(
            quote("keel.test=fault keel.halt=poweroff"),
            "'keel.test=fault keel.halt=poweroff'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn command_lines_join_quoted_words() {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-append", "a b", "-m", "1G"]);
        assert_eq!(describe(&cmd), "qemu-system-aarch64 -append 'a b' -m 1G");
    }
}
