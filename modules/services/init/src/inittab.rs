//! `/etc/inittab`: one entry per line, `ACTION:CAPS:COMMAND ARGS...`.
//!
//! - ACTION: `respawn` (start, restart when it ends), `once` (start, do not wait), `wait` (start
//!   and wait until it ends before going on).
//! - CAPS: a comma-separated list of `power`, `modules`, `kill`, `klog` (may be empty).
//! - COMMAND ARGS: the program's path and arguments, split at white space.
//!
//! `#` starts a comment line; blank lines are ignored.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use keel_abi::types::{CAP_KILL, CAP_KLOG, CAP_MODULES, CAP_POWER};

/// What init does with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start it, and start it again whenever it ends.
    Respawn,
    /// Start it once.
    Once,
    /// Start it and wait for it to end before the next entry.
    Wait,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "respawn" => Some(Action::Respawn),
            "once" => Some(Action::Once),
            "wait" => Some(Action::Wait),
            _ => None,
        }
    }
}

/// One inittab line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Line number (1-based), for messages.
    pub line: usize,
    /// What to do with it.
    pub action: Action,
    /// Capabilities to give the program.
    pub caps: u64,
    /// The program's path.
    pub command: String,
    /// Its arguments (not counting the path).
    pub args: Vec<String>,
}

/// A line that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Line number (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/etc/inittab:{}: {}", self.line, self.message)
    }
}

/// Parses a capability list such as `power,klog`.
pub fn parse_caps(s: &str) -> Result<u64, String> {
    let mut caps = 0;
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        caps |= match name {
            "power" => CAP_POWER,
            "modules" => CAP_MODULES,
            "kill" => CAP_KILL,
            "klog" => CAP_KLOG,
            other => {
                return Err(alloc::format!(
                    "unknown capability '{other}' (expected power, modules, kill or klog)"
                ))
            }
        };
    }
    Ok(caps)
}

/// Parses one line; `Ok(None)` for a blank or comment line.
pub fn parse_line(line_no: usize, line: &str) -> Result<Option<Entry>, ParseError> {
    let err = |message: String| ParseError {
        line: line_no,
        message,
    };
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut parts = line.splitn(3, ':');
    let (Some(action), Some(caps), Some(command)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(err("expected ACTION:CAPS:COMMAND".to_string()));
    };
    let action = Action::parse(action.trim()).ok_or_else(|| {
        err(alloc::format!(
            "unknown action '{}' (expected respawn, once or wait)",
            action.trim()
        ))
    })?;
    let caps = parse_caps(caps).map_err(err)?;
    let mut words = command.split_whitespace();
    let command = words
        .next()
        .ok_or_else(|| err("no command".to_string()))?
        .to_string();
    Ok(Some(Entry {
        line: line_no,
        action,
        caps,
        command,
        args: words.map(String::from).collect(),
    }))
}

/// Parses a whole inittab: the entries in order and the errors of the malformed lines (which
/// are skipped).
pub fn parse(text: &str) -> (Vec<Entry>, Vec<ParseError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(i + 1, line) {
            Ok(Some(e)) => entries.push(e),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (entries, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_abi::types::CAP_ALL;

    #[test]
    fn parses_entries_comments_and_blanks() {
        let text = "# the console\n\nrespawn:power,modules,kill,klog:/bin/sh\nonce::/bin/echo hi  there\n  wait:klog:/bin/true\n";
        let (entries, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].action, Action::Respawn);
        assert_eq!(entries[0].caps, CAP_ALL);
        assert_eq!(entries[0].command, "/bin/sh");
        assert_eq!(entries[0].line, 3);
        assert!(entries[0].args.is_empty());
        assert_eq!(entries[1].action, Action::Once);
        assert_eq!(entries[1].caps, 0);
        assert_eq!(entries[1].args, ["hi", "there"]);
        assert_eq!(entries[2].action, Action::Wait);
        assert_eq!(entries[2].caps, CAP_KLOG);
    }

    #[test]
    fn reports_malformed_lines_with_their_number() {
        let text =
            "respawn::/bin/sh\nbogus::/bin/x\nonce:root:/bin/y\nonce:\nwait::\nonce::/bin/ok\n";
        let (entries, errors) = parse(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert!(errors[0].message.contains("bogus"));
        assert!(errors[1].message.contains("root"));
        assert_eq!(
            errors[0].to_string(),
            "/etc/inittab:2: unknown action 'bogus' (expected respawn, once or wait)"
        );
    }

    #[test]
    fn command_may_contain_colons() {
        let (entries, errors) = parse("once::/bin/echo a:b");
        assert!(errors.is_empty());
        assert_eq!(entries[0].args, ["a:b"]);
    }
}
