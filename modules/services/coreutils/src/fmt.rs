//! Small formatting and parsing helpers of the tools.

use alloc::format;
use alloc::string::String;
use core::time::Duration;

/// `uptime`'s text: `up 0:00:12`, `up 1 day, 2:03:04`, `up 3 days, 0:00:00`.
pub fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match d {
        0 => format!("up {h}:{m:02}:{s:02}"),
        1 => format!("up 1 day, {h}:{m:02}:{s:02}"),
        d => format!("up {d} days, {h}:{m:02}:{s:02}"),
    }
}

/// CPU time as `M:SS.cc`.
pub fn cpu_time(ns: u64) -> String {
    let cs = ns / 10_000_000;
    format!("{}:{:02}.{:02}", cs / 6000, cs / 100 % 60, cs % 100)
}

/// A `ls -l` mode string: the kind letter then `rwxrwxrwx`.
pub fn mode_string(kind: char, mode: u32) -> String {
    let mut s = String::new();
    s.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Parses `sleep`'s argument: seconds, possibly fractional (`0.5`), with an optional suffix
/// `s`, `m`, `h` or `d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, mult) = match s.as_bytes().last()? {
        b's' => (&s[..s.len() - 1], 1),
        b'm' => (&s[..s.len() - 1], 60),
        b'h' => (&s[..s.len() - 1], 3600),
        b'd' => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos: u64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += (b - b'0') as u64 * 10u64.pow(8 - i as u32);
    }
    let total = Duration::new(secs, nanos as u32);
    total.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_text() {
        assert_eq!(uptime(12), "up 0:00:12");
        assert_eq!(uptime(3 * 3600 + 4 * 60 + 5), "up 3:04:05");
        assert_eq!(uptime(86400 + 7384), "up 1 day, 2:03:04");
        assert_eq!(uptime(3 * 86400), "up 3 days, 0:00:00");
    }

    #[test]
    fn cpu_time_text() {
        assert_eq!(cpu_time(0), "0:00.00");
        assert_eq!(cpu_time(1_230_000_000), "0:01.23");
        assert_eq!(cpu_time(61_500_000_000), "1:01.50");
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string('d', 0o755), "drwxr-xr-x");
        assert_eq!(mode_string('-', 0o644), "-rw-r--r--");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(".25s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("."), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("abc"), None);
    }
}
