//! `cargo xtask bench`: deterministic benchmarks.
//!
//! The normal kernel boots in QEMU (on one core on `virt`; `raspi4b` always has four) with
//! `-icount shift=0,sleep=off` (one guest instruction is one nanosecond of virtual time, idle time
//! is skipped) and every host input removed, so two runs execute the same instructions and give the same figures. The initramfs is
//! the normal one with an `/etc/inittab` that starts the shell, then `/bin/bench --poweroff`: the
//! bench waits for the shell's prompt, measures, prints `BENCH NAME VALUE UNIT ITERATIONS MIN
//! MEDIAN` lines and `BENCH-END` on the console and powers off. This module boots it twice, reads
//! the lines, adds the sizes of the kernel image and the modules, compares the two runs, prints a
//! table and writes `target/bench/<board>.json`. Nothing here judges speed.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keel_tests::{Machine, Qemu};

use crate::build;
use crate::cli::{Addition, BenchOptions, Board, KernelKind};
use crate::error::{Error, Result};
use crate::files::create_dir;
use crate::initramfs;
use crate::layout::{Layout, DTB_NAME, ELF_NAME, IMAGE_NAME};
use crate::modules;
use crate::prereq;
use crate::userland::{self, Program};

/// What starts every figure's line on the console.
const TAG: &str = "BENCH ";
/// The line after the last figure.
const END: &str = "BENCH-END";
/// How many times a benchmark boots, to show that the figures repeat.
const RUNS: usize = 2;
/// Functions `--profile` lists.
const PROFILE_TOP: usize = 40;
/// Wall-clock limit of one benchmark boot.
const TIMEOUT: Duration = Duration::from_secs(600);

/// The figures `/bin/bench` prints, in its order.
pub const GUEST_METRICS: &[&str] = &[
    "boot_to_init",
    "boot_to_prompt",
    "kernel_memory",
    "kernel_heap",
    "null_syscall",
    "yield",
    "context_switch",
    "ipc_call_reply",
    "ipc_call_reply_256b",
    "notify_delivery",
    "pipe_round_trip",
    "map_page",
    "write_64k_null",
    "write_64k_tty",
    "sd_read_1m",
    "sd_write_1m",
    "insmod",
    "rmmod",
    "timer_irq_latency",
    "timer_irq_latency_max",
    "timer_irq_latency_max_at",
];

/// The figure measured on the host: the raw kernel image's size. Each module adds
/// `module_NAME`, its `.ko` file's size.
pub const KERNEL_IMAGE: &str = "kernel_image";

/// One figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Its name, e.g. `null_syscall`.
    pub name: String,
    /// The mean per operation (or the one value).
    pub value: u64,
    /// `ns` or `bytes`.
    pub unit: String,
    /// Operations measured.
    pub iterations: u64,
    /// The fastest batch, per operation.
    pub min: u64,
    /// The median batch, per operation.
    pub median: u64,
}

impl Metric {
    /// A figure measured once.
    pub fn single(name: &str, value: u64, unit: &str) -> Metric {
        Metric {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
            iterations: 1,
            min: value,
            median: value,
        }
    }
}

/// Parses one `BENCH NAME VALUE UNIT ITERATIONS MIN MEDIAN` line (after the tag).
fn parse_fields(fields: &str) -> std::result::Result<Metric, String> {
    let words: Vec<&str> = fields.split_whitespace().collect();
    let [name, value, unit, iterations, min, median] = words[..] else {
        return Err(format!(
            "`{TAG}{fields}` does not have six fields (NAME VALUE UNIT ITERATIONS MIN MEDIAN)"
        ));
    };
    let number = |what: &str, text: &str| {
        text.parse::<u64>()
            .map_err(|_| format!("`{TAG}{fields}`: the {what} `{text}` is not a whole number"))
    };
    Ok(Metric {
        name: name.to_string(),
        value: number("value", value)?,
        unit: unit.to_string(),
        iterations: number("iteration count", iterations)?,
        min: number("minimum", min)?,
        median: number("median", median)?,
    })
}

/// The figures in a serial log, in order. A figure's line may start after other output (the
/// shell's prompt has no newline). Fails on a malformed line, a repeated name, or a log without
/// the end line.
pub fn parse(output: &str) -> std::result::Result<Vec<Metric>, String> {
    let mut metrics: Vec<Metric> = Vec::new();
    let mut ended = false;
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim() == END {
            ended = true;
            continue;
        }
        let Some(at) = line.find(TAG) else { continue };
        let metric = parse_fields(&line[at + TAG.len()..])?;
        if metrics.iter().any(|m| m.name == metric.name) {
            return Err(format!("the figure `{}` appears twice", metric.name));
        }
        metrics.push(metric);
    }
    if !ended {
        return Err(format!(
            "the log ends before `{END}` ({} figures read)",
            metrics.len()
        ));
    }
    Ok(metrics)
}

/// The names of `expected` that `metrics` lacks.
pub fn missing<'a>(metrics: &[Metric], expected: &[&'a str]) -> Vec<&'a str> {
    expected
        .iter()
        .copied()
        .filter(|name| !metrics.iter().any(|m| m.name == *name))
        .collect()
}

/// Where two runs disagree, one sentence per figure.
pub fn differences(first: &[Metric], second: &[Metric]) -> Vec<String> {
    let mut out = Vec::new();
    for a in first {
        match second.iter().find(|b| b.name == a.name) {
            Some(b) if a == b => {}
            Some(b) => out.push(format!(
                "{}: {} {} (min {}, median {}) then {} {} (min {}, median {})",
                a.name, a.value, a.unit, a.min, a.median, b.value, b.unit, b.min, b.median
            )),
            None => out.push(format!("{}: only in the first run", a.name)),
        }
    }
    for b in second {
        if !first.iter().any(|a| a.name == b.name) {
            out.push(format!("{}: only in the second run", b.name));
        }
    }
    out
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figures as a text table.
pub fn table(metrics: &[Metric]) -> String {
    let header = ["metric", "value", "unit", "iterations", "min", "median"];
    let rows: Vec<[String; 6]> = metrics
        .iter()
        .map(|m| {
            [
                m.name.clone(),
                grouped(m.value),
                m.unit.clone(),
                grouped(m.iterations),
                grouped(m.min),
                grouped(m.median),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // The name and the unit are words: left-aligned; the numbers right-aligned.
            if i == 0 || i == 2 {
                let _ = write!(text, "{cell:<w$}  ");
            } else {
                let _ = write!(text, "{cell:>w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(|s| s.as_str()));
    }
    out
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What one `cargo xtask bench` found, for the JSON file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// `virt` or `raspi4b`.
    pub board: String,
    /// Whether it was a `--quick` run.
    pub quick: bool,
    /// The machine's cores (`raspi4b` always has four).
    pub cores: u32,
    /// How many boots.
    pub runs: usize,
    /// Whether every boot gave the same figures (written as `null` after a single boot: nothing
    /// was compared).
    pub identical: bool,
    /// The QEMU command line.
    pub command: String,
    /// The figures (of the first run).
    pub metrics: Vec<Metric>,
}

impl Report {
    /// The report as JSON: an object with the run's facts and `metrics`, a list of objects with
    /// `metric`, `value`, `unit`, `iterations`, `min` and `median`.
    pub fn json(&self) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"board\": {},", json_string(&self.board));
        let _ = writeln!(out, "  \"quick\": {},", self.quick);
        let _ = writeln!(out, "  \"cores\": {},", self.cores);
        let _ = writeln!(out, "  \"runs\": {},", self.runs);
        if self.runs > 1 {
            let _ = writeln!(out, "  \"identical\": {},", self.identical);
        } else {
            out.push_str("  \"identical\": null,\n");
        }
        let _ = writeln!(out, "  \"time_unit\": \"1 ns = 1 guest instruction\",");
        let _ = writeln!(out, "  \"qemu\": {},", json_string(&self.command));
        out.push_str("  \"metrics\": [\n");
        for (i, m) in self.metrics.iter().enumerate() {
            let _ = write!(
                out,
                "    {{\"metric\": {}, \"value\": {}, \"unit\": {}, \"iterations\": {}, \
                 \"min\": {}, \"median\": {}}}",
                json_string(&m.name),
                m.value,
                json_string(&m.unit),
                m.iterations,
                m.min,
                m.median
            );
            out.push_str(if i + 1 < self.metrics.len() {
                ",\n"
            } else {
                "\n"
            });
        }
        out.push_str("  ]\n}\n");
        out
    }
}

/// The groups of figures `/bin/bench --only GROUP` runs alone (`--profile GROUP`).
pub const GROUPS: &[&str] = &[
    "syscalls", "switches", "ipc", "notify", "pipe", "mapping", "writes", "sdcard", "modules",
    "timer",
];

/// The `/etc/inittab` of a benchmark boot: the shell on the console, then the bench (only the
/// group `only`, if given).
pub fn inittab(quick: bool, only: Option<&str>) -> String {
    format!(
        "# /etc/inittab of `cargo xtask bench`: the shell, then the benchmark, which powers off.\n\
         once:power,modules,kill,klog:/bin/sh\n\
         wait:power,modules,kill,klog:/bin/bench{}{} --poweroff\n",
        if quick { " --quick" } else { "" },
        only.map(|g| format!(" --only {g}")).unwrap_or_default()
    )
}

/// `virt` or `raspi4b`: the QEMU machine's name.
fn machine_name(board: Board) -> &'static str {
    match board {
        Board::Virt => "virt",
        Board::Rpi4 => "raspi4b",
    }
}

/// The cores a benchmark boot has: one on `virt`; `raspi4b` cannot have fewer than four.
fn cores(board: Board) -> u32 {
    match board {
        Board::Virt => 1,
        Board::Rpi4 => 4,
    }
}

/// The blank SD card every benchmark boot gets (in the slot of `raspi4b`, on an `sdhci-pci` host
/// on `virt`), next to the benchmark's initramfs, and its size: room for a fresh megabyte per
/// timed batch of the SD figures.
const SD_IMAGE: &str = "sd.img";
const SD_BYTES: u64 = 32 << 20;

/// `target/bench/`.
fn bench_dir(layout: &Layout) -> PathBuf {
    layout.target().join("bench")
}

/// Writes the benchmark's inittab and initramfs under `target/bench/<board>/` (the normal
/// initramfs stays as it is); returns the initramfs.
fn prepare(
    layout: &Layout,
    board: Board,
    programs: &[Program],
    quick: bool,
    only: Option<&str>,
) -> Result<PathBuf> {
    let dir = bench_dir(layout).join(board.dist_name());
    create_dir(&dir)?;
    let tab = dir.join("inittab");
    fs::write(&tab, inittab(quick, only)).map_err(|e| Error::io("write", &tab, e))?;
    // A new blank card each time, so every run reads and writes the same bytes.
    let sd = dir.join(SD_IMAGE);
    fs::File::create(&sd)
        .and_then(|f| f.set_len(SD_BYTES))
        .map_err(|e| Error::io("create", &sd, e))?;
    let addition = Addition {
        host: tab,
        guest: "/etc/inittab".to_string(),
    };
    initramfs::install_at(
        layout,
        board,
        programs,
        &[addition],
        &dir.join("initramfs.cpio"),
    )
}

/// The sizes of the kernel image and of every module of `board`, sorted by name.
fn sizes(layout: &Layout, board: Board) -> Result<Vec<Metric>> {
    let image = layout
        .kernel_dist(board, KernelKind::Normal)
        .join(IMAGE_NAME);
    let size = |path: &Path| {
        fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| Error::io("read the size of", path, e))
    };
    let mut out = vec![Metric::single(KERNEL_IMAGE, size(&image)?, "bytes")];
    let dir = modules::dist_dir(layout, board);
    let listing = fs::read_dir(&dir).map_err(|e| Error::io("list the folder", &dir, e))?;
    let mut modules = Vec::new();
    for entry in listing {
        let path = entry
            .map_err(|e| Error::io("list the folder", &dir, e))?
            .path();
        if path.extension().is_some_and(|e| e == "ko") {
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            modules.push(Metric::single(
                &format!("module_{name}"),
                size(&path)?,
                "bytes",
            ));
        }
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(modules);
    Ok(out)
}

fn machine(board: Board) -> Machine {
    match board {
        Board::Virt => Machine::Virt,
        Board::Rpi4 => Machine::Raspi4b,
    }
}

/// The benchmark's QEMU machine for `board`, booting `initrd`.
fn machine_for(layout: &Layout, board: Board, initrd: &Path) -> Qemu {
    let image = layout
        .kernel_dist(board, KernelKind::Normal)
        .join(IMAGE_NAME);
    let qemu = Qemu::new(machine(board), layout.show(&image))
        .initrd(layout.show(initrd))
        .cpus(cores(board))
        .deterministic(true)
        .sd_image(layout.show(&initrd.with_file_name(SD_IMAGE)))
        .timeout(TIMEOUT);
    if board == Board::Rpi4 {
        qemu.dtb(layout.show(&layout.board_dist(Board::Rpi4).join(DTB_NAME)))
    } else {
        qemu
    }
}

/// Boots `qemu` once; its outcome, if the benchmark ran to its power-off.
fn boot(layout: &Layout, qemu: &Qemu) -> Result<keel_tests::Outcome> {
    let mut command = std::process::Command::new(keel_tests::qemu::QEMU);
    command.args(qemu.args()).current_dir(layout.root());
    let outcome = keel_tests::qemu::run_captured(command, TIMEOUT, qemu.command_line());
    if outcome.timed_out || outcome.status != Some(0) {
        return Err(failure(
            &outcome,
            "QEMU did not power off cleanly after the benchmark".to_string(),
        ));
    }
    Ok(outcome)
}

/// A benchmark boot that went wrong, with what QEMU printed.
fn failure(outcome: &keel_tests::Outcome, reason: String) -> Error {
    Error::Bench {
        reason,
        report: outcome.report(),
    }
}

/// Boots the benchmark `runs` times; returns the report (figures of the first run, sizes added).
fn measure(
    layout: &Layout,
    board: Board,
    initrd: &Path,
    quick: bool,
    runs: usize,
) -> Result<Report> {
    let cores = cores(board);
    let qemu = machine_for(layout, board, initrd);
    say!("{}", qemu.command_line());
    let mut all: Vec<Vec<Metric>> = Vec::new();
    for run in 1..=runs {
        say!(
            "benchmark run {run} of {runs} on {}{}",
            machine_name(board),
            if quick { " (quick)" } else { "" }
        );
        let outcome = boot(layout, &qemu)?;
        let failed = |reason: String| failure(&outcome, reason);
        let metrics = parse(&outcome.output).map_err(failed)?;
        let lacking = missing(&metrics, GUEST_METRICS);
        if !lacking.is_empty() {
            return Err(failed(format!(
                "/bin/bench printed no {}",
                lacking.join(", ")
            )));
        }
        all.push(metrics);
    }
    let mut identical = true;
    for (i, later) in all.iter().enumerate().skip(1) {
        let differ = differences(&all[0], later);
        for d in &differ {
            say!("run {} differs from run 1: {d}", i + 1);
        }
        identical &= differ.is_empty();
    }
    let mut metrics = all.swap_remove(0);
    metrics.extend(sizes(layout, board)?);
    Ok(Report {
        board: machine_name(board).to_string(),
        quick,
        cores,
        runs,
        identical,
        command: qemu.command_line(),
        metrics,
    })
}

/// Prints the report and writes it to `target/bench/<board>.json`; returns the file.
fn publish(layout: &Layout, report: &Report) -> Result<PathBuf> {
    println!("{}", table(&report.metrics));
    println!(
        "time: 1 ns = 1 guest instruction (QEMU -icount shift=0); {} core(s)",
        report.cores
    );
    if report.runs > 1 {
        if report.identical {
            println!(
                "deterministic: the {} runs gave identical figures",
                report.runs
            );
        } else {
            println!(
                "NOT deterministic: the {} runs gave different figures (see above)",
                report.runs
            );
        }
    }
    let dir = bench_dir(layout);
    create_dir(&dir)?;
    let path = dir.join(format!("{}.json", report.board));
    fs::write(&path, report.json()).map_err(|e| Error::io("write", &path, e))?;
    say!("wrote {}", layout.show(&path).display());
    Ok(path)
}

/// `cargo xtask bench`: builds the normal kernel, the modules and the programs for the board,
/// boots the benchmark twice, prints the table and writes the JSON file.
pub fn bench(layout: &Layout, options: &BenchOptions) -> Result<()> {
    prereq::qemu()?;
    let board = options.board;
    let kernel = build::kernel(layout, KernelKind::Normal)?;
    build::install(layout, board, KernelKind::Normal, &kernel)?;
    modules::build_all(layout, board)?;
    if board == Board::Rpi4 {
        build::rpi4_boot_files(layout, options.firmware.as_deref())?;
    }
    let programs = userland::build(layout)?;
    if let Some(group) = &options.profile {
        let initrd = prepare(layout, board, &programs, true, Some(group))?;
        return profile_group(layout, board, &initrd, &programs);
    }
    let initrd = prepare(layout, board, &programs, options.quick, None)?;
    let report = measure(layout, board, &initrd, options.quick, RUNS)?;
    publish(layout, &report)?;
    Ok(())
}

/// `--profile`: one quick boot running one group with QEMU logging every block, then the
/// instructions per function of the kernel and `/bin/bench` over that group.
fn profile_group(layout: &Layout, board: Board, initrd: &Path, programs: &[Program]) -> Result<()> {
    let log = initrd.with_file_name("trace.log");
    let qemu = machine_for(layout, board, initrd).extra([
        "-d".to_string(),
        "in_asm,exec,nochain".to_string(),
        "-D".to_string(),
        layout.show(&log).display().to_string(),
    ]);
    say!("{}", qemu.command_line());
    let outcome = boot(layout, &qemu)?;
    let failed = |reason: String| failure(&outcome, reason);
    let metrics = parse(&outcome.output).map_err(failed)?;
    println!("{}", table(&metrics));
    let bench = programs
        .iter()
        .find(|p| p.name == "bench")
        .ok_or_else(|| failed("no /bin/bench was built".to_string()))?;
    let kernel = layout.kernel_dist(board, KernelKind::Normal).join(ELF_NAME);
    let profile = crate::profile::from_files(&log, &[&kernel, &bench.host])?;
    println!("{}", crate::profile::table(&profile, PROFILE_TOP));
    say!(
        "instructions from {}'s first call to its second (the whole group, warm-up included; \
         divide by the operations above); QEMU's log is {}",
        crate::profile::MARK,
        layout.show(&log).display()
    );
    Ok(())
}

/// For `cargo xtask test`: the quick benchmark on `virt` with what stage 2 built, once, to show
/// that it runs and that its JSON file names every figure. Speed is never checked.
pub fn smoke(layout: &Layout, programs: &[Program]) -> Result<()> {
    let initrd = prepare(layout, Board::Virt, programs, true, None)?;
    let report = measure(layout, Board::Virt, &initrd, true, 1)?;
    let path = publish(layout, &report)?;
    let json = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    let mut expected: Vec<&str> = GUEST_METRICS.to_vec();
    expected.push(KERNEL_IMAGE);
    expected.push("module_hello");
    let absent: Vec<&str> = expected
        .into_iter()
        .filter(|name| !json.contains(&format!("\"metric\": \"{name}\"")))
        .collect();
    if absent.is_empty() && json.trim_end().ends_with('}') {
        Ok(())
    } else {
        Err(Error::Bench {
            reason: format!(
                "{} lacks the figures {}",
                layout.show(&path).display(),
                absent.join(", ")
            ),
            report: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, value: u64) -> Metric {
        Metric {
            name: name.to_string(),
            value,
            unit: "ns".to_string(),
            iterations: 100,
            min: value - 1,
            median: value,
        }
    }

    #[test]
    fn figures_are_read_from_the_log_even_after_a_prompt() {
        let log = "[    0.004] INFO boot: done\r\n\
                   / # BENCH boot_to_init 4575488 ns 1 4575488 4575488\r\n\
                   ----\n\
                   BENCH null_syscall 240 ns 300 239 240\n\
                   BENCH-END\n";
        let metrics = parse(log).unwrap();
        assert_eq!(
            metrics,
            [
                Metric::single("boot_to_init", 4575488, "ns"),
                Metric {
                    name: "null_syscall".into(),
                    value: 240,
                    unit: "ns".into(),
                    iterations: 300,
                    min: 239,
                    median: 240,
                }
            ]
        );
        assert_eq!(
            missing(&metrics, &["null_syscall", "yield", "insmod"]),
            ["yield", "insmod"]
        );
    }

    #[test]
    fn bad_logs_are_refused_with_the_reason() {
        let e = parse("BENCH x 1 ns 1 1\nBENCH-END\n").unwrap_err();
        assert!(e.contains("does not have six fields"), "{e}");
        let e = parse("BENCH x 1.5 ns 1 1 1\nBENCH-END\n").unwrap_err();
        assert!(e.contains("the value `1.5` is not a whole number"), "{e}");
        let e = parse("BENCH x 1 ns 1 1 1\nBENCH x 1 ns 1 1 1\nBENCH-END\n").unwrap_err();
        assert!(e.contains("appears twice"), "{e}");
        let e = parse("BENCH x 1 ns 1 1 1\n").unwrap_err();
        assert!(
            e.contains("ends before `BENCH-END` (1 figures read)"),
            "{e}"
        );
    }

    #[test]
    fn runs_are_compared_figure_by_figure() {
        let a = [metric("yield", 323), metric("ipc", 600)];
        assert!(differences(&a, &a).is_empty());
        let b = [metric("yield", 324), metric("map", 9)];
        assert_eq!(
            differences(&a, &b),
            [
                "yield: 323 ns (min 322, median 323) then 324 ns (min 323, median 324)",
                "ipc: only in the first run",
                "map: only in the second run",
            ]
        );
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(991_234_000), "991,234,000");
    }

    #[test]
    fn the_table_aligns_words_left_and_numbers_right() {
        let t = table(&[
            metric("yield", 323),
            Metric::single("kernel_image", 1_048_576, "bytes"),
        ]);
        assert_eq!(
            t,
            "metric            value  unit   iterations        min     median\n\
             yield               323  ns            100        322        323\n\
             kernel_image  1,048,576  bytes           1  1,048,576  1,048,576\n"
        );
    }

    #[test]
    fn the_json_file_lists_every_figure() {
        let report = Report {
            board: "virt".into(),
            quick: true,
            cores: 1,
            runs: 2,
            identical: true,
            command: "qemu-system-aarch64 -append 'a \"b\"'".into(),
            metrics: vec![metric("yield", 323), metric("rmmod", 15472)],
        };
        assert_eq!(
            report.json(),
            "{\n  \"board\": \"virt\",\n  \"quick\": true,\n  \"cores\": 1,\n  \"runs\": 2,\n  \
             \"identical\": true,\n  \"time_unit\": \"1 ns = 1 guest instruction\",\n  \
             \"qemu\": \"qemu-system-aarch64 -append 'a \\\"b\\\"'\",\n  \"metrics\": [\n    \
             {\"metric\": \"yield\", \"value\": 323, \"unit\": \"ns\", \"iterations\": 100, \
             \"min\": 322, \"median\": 323},\n    \
             {\"metric\": \"rmmod\", \"value\": 15472, \"unit\": \"ns\", \"iterations\": 100, \
             \"min\": 15471, \"median\": 15472}\n  ]\n}\n"
        );
        assert_eq!(json_string("a\\b\u{1}"), "\"a\\\\b\\u0001\"");
        let once = Report { runs: 1, ..report };
        assert!(once.json().contains("\n  \"identical\": null,\n"));
    }

    #[test]
    fn the_groups_are_those_of_the_bench_program() {
        let source = include_str!("../../modules/services/bench/src/main.rs");
        for group in GROUPS {
            assert!(
                source.contains(&format!("(\"{group}\", ")),
                "/bin/bench has no group {group}"
            );
        }
        let table = source
            .split("const GROUPS: &[(&str, Group)] = &[")
            .nth(1)
            .and_then(|rest| rest.split("];").next())
            .expect("/bin/bench lists its groups in GROUPS");
        assert_eq!(table.matches("(\"").count(), GROUPS.len());
    }

    #[test]
    fn the_inittab_starts_the_shell_then_the_bench() {
        let quick = inittab(true, None);
        assert!(quick.contains("\nonce:power,modules,kill,klog:/bin/sh\n"));
        assert!(quick.ends_with("\nwait:power,modules,kill,klog:/bin/bench --quick --poweroff\n"));
        assert!(inittab(false, None).ends_with("/bin/bench --poweroff\n"));
        assert!(inittab(true, Some("ipc")).ends_with("/bin/bench --quick --only ipc --poweroff\n"));
    }
}
