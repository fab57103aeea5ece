//! The kernel's log line format: `[ssss.uuuuuu] LEVEL subsys: message`.

/// One parsed kernel log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// Whole seconds since boot.
    pub seconds: u64,
    /// Microseconds within the second.
    pub micros: u32,
    /// The level, e.g. `INFO`.
    pub level: &'a str,
    /// The subsystem, e.g. `mm`.
    pub subsys: &'a str,
    /// Everything after `subsys: `.
    pub message: &'a str,
}

/// Parses `line` if it has the kernel's log format; anything else (firmware output, QEMU
/// messages) gives `None`.
pub fn parse(line: &str) -> Option<LogLine<'_>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (stamp, rest) = line.strip_prefix('[')?.split_once(']')?;
    let (seconds, micros) = stamp.trim().split_once('.')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(seconds) || !all_digits(micros) {
        return None;
    }
    let (level, rest) = rest.trim_start().split_once(' ')?;
    let (subsys, message) = rest.trim_start().split_once(':')?;
    if level.is_empty() || subsys.is_empty() || subsys.contains(char::is_whitespace) {
        return None;
    }
    Some(LogLine {
        seconds: seconds.parse().ok()?,
        micros: micros.parse().ok()?,
        level,
        subsys,
        message: message.strip_prefix(' ').unwrap_or(message),
    })
}

/// Every kernel log line in `output`.
pub fn lines(output: &str) -> impl Iterator<Item = LogLine<'_>> {
    output.lines().filter_map(parse)
}

/// The counts of an in-kernel test summary message, `N passed, M failed`.
pub fn summary(message: &str) -> Option<(u32, u32)> {
    let (passed, failed) = message.trim().split_once(", ")?;
    let passed = passed.strip_suffix(" passed")?.trim().parse().ok()?;
    let failed = failed.strip_suffix(" failed")?.trim().parse().ok()?;
    Some((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse_into_their_parts() {
        assert_eq!(
            parse("[    0.001250] INFO  mm: RAM 1024 MiB\r"),
            Some(LogLine {
                seconds: 0,
                micros: 1250,
                level: "INFO",
                subsys: "mm",
                message: "RAM 1024 MiB",
            })
        );
        let board = parse("[0000.000100] INFO board: linux,dummy-virt").unwrap();
        assert_eq!((board.subsys, board.message), ("board", "linux,dummy-virt"));
    }

    #[test]
    fn other_output_is_not_a_log_line() {
        assert_eq!(parse("qemu-system-aarch64: warning: something"), None);
        assert_eq!(parse("[abc.def] INFO mm: x"), None);
        assert_eq!(parse("[0.1] INFO no colon here"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn summaries_count_passes_and_failures() {
        assert_eq!(summary("12 passed, 0 failed"), Some((12, 0)));
        assert_eq!(summary("3 passed, 1 failed"), Some((3, 1)));
        assert_eq!(summary("running 12 tests"), None);
    }
}
