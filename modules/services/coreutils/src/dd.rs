//! `dd` operands (`if= of= bs= count= skip= seek=`) and its report.

use alloc::format;
use alloc::string::String;

/// Parses a size: digits with an optional suffix `c` (1), `w` (2), `b` (512), `k`/`K` (1024),
/// `M` (1024²), `G` (1024³), `kB` (1000), `MB` (1000²), `GB` (1000³).
pub fn parse_size(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let mult: u64 = match &s[digits..] {
        "" | "c" => 1,
        "w" => 2,
        "b" => 512,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "kB" | "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// The operands of a `dd` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdArgs {
    /// Input file (`None`: stdin).
    pub input: Option<String>,
    /// Output file (`None`: stdout).
    pub output: Option<String>,
    /// Block size in bytes.
    pub bs: u64,
    /// Blocks to copy (`None`: until the end of the input).
    pub count: Option<u64>,
    /// Input blocks to skip.
    pub skip: u64,
    /// Output blocks to skip.
    pub seek: u64,
}

impl Default for DdArgs {
    fn default() -> Self {
        DdArgs {
            input: None,
            output: None,
            bs: 512,
            count: None,
            skip: 0,
            seek: 0,
        }
    }
}

/// Parses `dd`'s operands.
pub fn parse_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<DdArgs, String> {
    let mut d = DdArgs::default();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("unrecognized operand '{a}'"))?;
        let num = || parse_size(v).ok_or_else(|| format!("invalid number '{v}'"));
        match k {
            "if" => d.input = Some(String::from(v)),
            "of" => d.output = Some(String::from(v)),
            "bs" | "ibs" | "obs" => {
                d.bs = num()?;
                if d.bs == 0 {
                    return Err(format!("invalid number '{v}'"));
                }
            }
            "count" => d.count = Some(num()?),
            "skip" => d.skip = num()?,
            "seek" => d.seek = num()?,
            _ => return Err(format!("unrecognized operand '{a}'")),
        }
    }
    Ok(d)
}

/// Block counts of a copy: full and partial records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// Full blocks read.
    pub full_in: u64,
    /// Short blocks read.
    pub partial_in: u64,
    /// Full blocks written.
    pub full_out: u64,
    /// Short blocks written.
    pub partial_out: u64,
    /// Bytes copied.
    pub bytes: u64,
}

/// GNU dd's report: `N+M records in`, `N+M records out`, `B bytes copied, T s, R/s`.
pub fn report(r: &Records, ns: u64) -> String {
    let secs = ns as f64 / 1e9;
    let rate = if ns > 0 { r.bytes as f64 / secs } else { 0.0 };
    format!(
        "{}+{} records in\n{}+{} records out\n{} bytes copied, {:.4} s, {}/s\n",
        r.full_in,
        r.partial_in,
        r.full_out,
        r.partial_out,
        r.bytes,
        secs,
        human(rate)
    )
}

fn human(v: f64) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let mut v = v;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("2b"), Some(1024));
        assert_eq!(parse_size("1kB"), Some(1000));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size("12x"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("99999999999999G"), None);
    }

    #[test]
    fn operands() {
        let d = parse_args([
            "if=/dev/zero",
            "of=/tmp/z",
            "bs=1k",
            "count=4",
            "skip=1",
            "seek=2",
        ])
        .unwrap();
        assert_eq!(
            d,
            DdArgs {
                input: Some("/dev/zero".into()),
                output: Some("/tmp/z".into()),
                bs: 1024,
                count: Some(4),
                skip: 1,
                seek: 2
            }
        );
        assert_eq!(parse_args([]).unwrap(), DdArgs::default());
        assert_eq!(parse_args(["bs=0"]), Err("invalid number '0'".into()));
        assert_eq!(
            parse_args(["foo=1"]),
            Err("unrecognized operand 'foo=1'".into())
        );
        assert_eq!(
            parse_args(["count"]),
            Err("unrecognized operand 'count'".into())
        );
    }

    #[test]
    fn report_layout() {
        let r = Records {
            full_in: 4,
            partial_in: 1,
            full_out: 4,
            partial_out: 1,
            bytes: 4196,
        };
        let text = report(&r, 2_000_000);
        assert!(
            text.starts_with(
                "4+1 records in\n4+1 records out\n4196 bytes copied, 0.0020 s, 2.1 MB/s\n"
            ),
            "{text}"
        );
    }
}
