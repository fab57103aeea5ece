//! `cargo xtask bench --profile GROUP`: where a benchmark's instructions go, function by function.
//!
//! QEMU logs every translated block (`-d in_asm`: its instructions) and every block it runs
//! (`-d exec,nochain`: one line per execution, with block chaining off so none is skipped). A
//! block's instruction count times its executions, summed per function of the kernel and of
//! `/bin/bench`, is the instruction count of that function; under `-icount shift=0` that is also
//! its virtual time. The count covers the window between the two calls `/bin/bench --only GROUP`
//! makes to its `bench_profile_mark` (before and after the group), so the boot and the power-off
//! are left out. A block that an exception cut short is counted whole: the figures are exact to a
//! few instructions per exception.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use goblin::elf::sym::{STT_FUNC, STT_NOTYPE};
use goblin::elf::Elf;
use keel_core::symbols::Demangled;

use crate::error::{Error, Result};

/// The function `/bin/bench` calls right before and right after the group it profiles.
pub const MARK: &str = "bench_profile_mark";

/// Function names by start address, from one or more ELF files.
#[derive(Default)]
pub struct Symbols {
    starts: Vec<(u64, String)>,
}

impl Symbols {
    /// Adds the code symbols of `elf` (functions and assembly labels, not `$x`-style mapping
    /// symbols).
    pub fn add_elf(&mut self, elf: &Elf) {
        for sym in elf.syms.iter() {
            let code = matches!(sym.st_type(), STT_FUNC | STT_NOTYPE)
                && sym.st_value != 0
                && elf
                    .section_headers
                    .get(sym.st_shndx)
                    .is_some_and(|sh| sh.is_executable());
            if !code {
                continue;
            }
            if let Some(name) = elf.strtab.get_at(sym.st_name) {
                if !name.is_empty() && !name.starts_with('$') && !name.starts_with(".L") {
                    self.starts.push((sym.st_value, name.to_string()));
                }
            }
        }
        self.starts.sort();
        self.starts.dedup_by_key(|(addr, _)| *addr);
    }

    /// Adds one symbol.
    #[cfg(test)]
    pub fn add(&mut self, addr: u64, name: &str) {
        self.starts.push((addr, name.to_string()));
        self.starts.sort();
    }

    /// The function `pc` is in: the closest start at or below it.
    pub fn at(&self, pc: u64) -> Option<&str> {
        let i = self.starts.partition_point(|(addr, _)| *addr <= pc);
        i.checked_sub(1).map(|i| self.starts[i].1.as_str())
    }

    /// The address of the symbol `name`.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.starts
            .iter()
            .find(|(_, n)| n == name)
            .map(|(addr, _)| *addr)
    }
}

/// Instructions counted per function over the window.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Instructions in the window.
    pub total: u64,
    /// (instructions, function), most first.
    pub functions: Vec<(u64, String)>,
}

/// One line of the log, as far as the profile cares.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// `IN:` starts a block's listing.
    BlockStart,
    /// An instruction of the block being listed, at this address.
    Instruction(u64),
    /// A block starting at this address ran.
    Executed(u64),
    /// Anything else.
    Other,
}

fn parse_line(line: &str) -> Line {
    if line.starts_with("IN:") {
        return Line::BlockStart;
    }
    if let Some(rest) = line.strip_prefix("0x") {
        let hex = rest.split(':').next().unwrap_or("");
        if let Ok(pc) = u64::from_str_radix(hex, 16) {
            return Line::Instruction(pc);
        }
    }
    // `Trace 0: 0x7f1c.. [00004000/ffffffff80001234/00000000/ff020000] name`
    if line.starts_with("Trace ") {
        if let Some(fields) = line.split('[').nth(1) {
            if let Some(pc) = fields.split('/').nth(1) {
                if let Ok(pc) = u64::from_str_radix(pc, 16) {
                    return Line::Executed(pc);
                }
            }
        }
    }
    Line::Other
}

/// Counts the log's instructions per function of `symbols`, between the first two executions
/// of the block at `mark`.
pub fn profile(log: impl BufRead, symbols: &Symbols, mark: u64) -> std::io::Result<Profile> {
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    let mut listing: Option<u64> = None;
    let mut marks = 0;
    let mut per_function: HashMap<&str, u64> = HashMap::new();
    let mut total = 0;
    for line in log.lines() {
        match parse_line(&line?) {
            Line::BlockStart => listing = None,
            Line::Instruction(pc) => {
                let start = *listing.get_or_insert(pc);
                // A block translated again replaces its old listing.
                let n = sizes.entry(start).or_insert(0);
                if start == pc {
                    *n = 0;
                }
                *n += 1;
            }
            Line::Executed(pc) => {
                if pc == mark {
                    marks += 1;
                    if marks == 2 {
                        break;
                    }
                }
                if marks == 1 {
                    let n = sizes.get(&pc).copied().unwrap_or(0);
                    total += n;
                    *per_function
                        .entry(symbols.at(pc).unwrap_or("?"))
                        .or_insert(0) += n;
                }
            }
            Line::Other => {}
        }
    }
    let mut functions: Vec<(u64, String)> = per_function
        .into_iter()
        .map(|(name, n)| (n, name.to_string()))
        .collect();
    functions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(Profile { total, functions })
}

/// The profile as a table of the `top` functions that ran most instructions.
pub fn table(profile: &Profile, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>12}  {:>6}  function", "instructions", "share");
    for (n, name) in profile.functions.iter().take(top) {
        let share = *n as f64 * 100.0 / profile.total.max(1) as f64;
        let _ = writeln!(out, "{n:>12}  {share:>5.1}%  {}", Demangled(name));
    }
    let _ = write!(
        out,
        "{:>12}  100.0%  in all ({} functions)",
        profile.total,
        profile.functions.len()
    );
    out
}

/// Reads the log QEMU wrote, with the symbols of the kernel and of `/bin/bench`.
pub fn from_files(log: &Path, elves: &[&Path]) -> Result<Profile> {
    let mut symbols = Symbols::default();
    for path in elves {
        let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let elf = Elf::parse(&bytes).map_err(|e| Error::Bench {
            reason: format!("{} is not an ELF file: {e}", path.display()),
            report: String::new(),
        })?;
        symbols.add_elf(&elf);
    }
    let mark = symbols.address(MARK).ok_or_else(|| Error::Bench {
        reason: format!("/bin/bench has no function {MARK}"),
        report: String::new(),
    })?;
    let file = fs::File::open(log).map_err(|e| Error::io("open", log, e))?;
    let profile =
        profile(BufReader::new(file), &symbols, mark).map_err(|e| Error::io("read", log, e))?;
    if profile.total == 0 {
        return Err(Error::Bench {
            reason: format!(
                "{} shows no instructions between the two calls of {MARK}",
                log.display()
            ),
            report: String::new(),
        });
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols() -> Symbols {
        let mut s = Symbols::default();
        s.add(0x1000, "mark");
        s.add(0x2000, "alpha");
        s.add(0x3000, "beta");
        s
    }

    const LOG: &str = "\
IN: mark
0x00001000:  d503201f  nop
0x00001004:  d65f03c0  ret

IN: alpha
0x00002000:  d503201f  nop
0x00002004:  d503201f  nop
0x00002008:  d65f03c0  ret

IN: beta
0x00003010:  d65f03c0  ret

Trace 0: 0x7f00 [00004000/0000000000002000/00000000/ff020000] alpha
Trace 0: 0x7f00 [00004000/0000000000001000/00000000/ff020000] mark
Trace 0: 0x7f00 [00004000/0000000000002000/00000000/ff020000] alpha
Trace 0: 0x7f00 [00004000/0000000000003010/00000000/ff020000] beta
Trace 0: 0x7f00 [00004000/0000000000002000/00000000/ff020000] alpha
Trace 0: 0x7f00 [00004000/0000000000001000/00000000/ff020000] mark
Trace 0: 0x7f00 [00004000/0000000000003010/00000000/ff020000] beta
";

    #[test]
    fn lines_are_told_apart() {
        assert_eq!(parse_line("IN: foo"), Line::BlockStart);
        assert_eq!(
            parse_line("0xffffffff80001234:  d503201f  nop"),
            Line::Instruction(0xffff_ffff_8000_1234)
        );
        assert_eq!(
            parse_line("Trace 0: 0x7f1c [00004000/ffffffff80001234/00000000/ff020000] x"),
            Line::Executed(0xffff_ffff_8000_1234)
        );
        assert_eq!(parse_line("----------------"), Line::Other);
        assert_eq!(parse_line("Trace 0: garbage"), Line::Other);
    }

    #[test]
    fn blocks_are_counted_per_function_inside_the_window() {
        let p = profile(LOG.as_bytes(), &symbols(), 0x1000).unwrap();
        // The window: mark (2), alpha (3), beta (1), alpha (3); not the blocks outside it.
        assert_eq!(p.total, 9);
        assert_eq!(
            p.functions,
            vec![
                (6, "alpha".to_string()),
                (2, "mark".to_string()),
                (1, "beta".to_string())
            ]
        );
    }

    #[test]
    fn a_missing_second_mark_counts_to_the_end() {
        let log = LOG.replacen(
            "[00004000/0000000000001000/00000000/ff020000] mark\nTrace 0: 0x7f00 [00004000/0000000000003010",
            "[00004000/0000000000002000/00000000/ff020000] alpha\nTrace 0: 0x7f00 [00004000/0000000000003010",
            1,
        );
        let p = profile(log.as_bytes(), &symbols(), 0x1000).unwrap();
        assert_eq!(p.total, 2 + 3 + 1 + 3 + 3 + 1);
    }

    #[test]
    fn symbols_resolve_to_the_closest_start_below() {
        let s = symbols();
        assert_eq!(s.at(0x2fff), Some("alpha"));
        assert_eq!(s.at(0x3000), Some("beta"));
        assert_eq!(s.at(0x0fff), None);
        assert_eq!(s.address("beta"), Some(0x3000));
    }

    #[test]
    fn the_table_lists_the_most_first_with_shares() {
        let p = profile(LOG.as_bytes(), &symbols(), 0x1000).unwrap();
        let t = table(&p, 2);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].ends_with("alpha") && lines[1].contains("66.7%"));
        assert!(lines[2].ends_with("mark"));
        assert!(lines[3].contains("in all (3 functions)"));
    }
}
