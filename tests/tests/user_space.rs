//! User space on both machines, driven through the serial console: init starts the shell; the
//! shell's commands, pipes and redirections work; faulting and spinning programs are contained;
//! random system calls leave the kernel running and leak nothing; IPC works between processes; a
//! `poweroff` ends QEMU with status 0.

use std::time::Duration;

use keel_tests::session::COMMAND_TIMEOUT;
use keel_tests::{boot_user_space, Machine, Session};

const POWEROFF_TIMEOUT: Duration = Duration::from_secs(60);

fn power_off(mut s: Session) {
    s.send_line("poweroff");
    let outcome = s.finish(POWEROFF_TIMEOUT);
    outcome.assert_exit(0);
    outcome.assert_log("power", "off");
}

/// The first number after `label` in `text` (`free`'s columns).
fn number_after(text: &str, label: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line starting with {label:?} in {text:?}"));
    let rest = line.trim_start()[label.len()..].trim_start();
    rest.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

fn shell_commands(machine: Machine) {
    let mut s = boot_user_space(machine);
    s.wait_for_shell();
    s.run_expecting("echo hello   world", &["hello world\n"]);
    s.run_expecting("help", &["hexdump", "poweroff", "insmod"]);
    s.run_expecting("ls /", &["bin\n", "dev\n", "etc\n", "tmp\n"]);
    s.run_expecting("ls /bin", &["sh\n", "cat\n", "hexdump\n"]);
    s.run_expecting("cat /etc/motd", &["Keel"]);
    s.run_expecting(
        "echo hello | hexdump -C",
        &["00000000  68 65 6c 6c 6f 0a", "|hello.|", "00000006"],
    );
    s.run("echo first line > /tmp/f");
    s.run("echo second line >> /tmp/f");
    s.run_expecting("cat < /tmp/f", &["first line\nsecond line\n"]);
    s.run_expecting(
        "cat /tmp/f | cat | hexdump -C -n 5",
        &["66 69 72 73 74", "00000005"],
    );
    s.run_expecting(
        "dd if=/dev/zero of=/tmp/z bs=1k count=8",
        &["8+0 records in", "8+0 records out", "8192 bytes"],
    );
    s.run_expecting("ls -l /tmp", &["8192", "z"]);
    s.run_expecting(
        "hexdump -C -s 8190 /tmp/z",
        &["00001ffe  00 00", "00002000"],
    );
    s.run_expecting("ps", &["PID", "init", "sh", "ps"]);
    s.run_expecting("uptime", &["up "]);
    s.run_expecting("free", &["Mem:"]);
    s.run_expecting("dmesg", &["boot: Keel", "smp: 4 core(s) online"]);
    s.run_expecting("nosuch --flag", &["sh: nosuch: not found"]);
    s.run_expecting("sync", &[]);
    power_off(s);
}

fn isolation_and_robustness(machine: Machine) {
    let mut s = boot_user_space(machine);
    s.wait_for_shell();
    for kind in [
        "null",
        "kernel-read",
        "kernel-write",
        "exec-data",
        "undef",
        "wild-jump",
    ] {
        let out = s.run(&format!("crash {kind}"));
        assert!(
            out.contains("sh: crash: killed (fault)"),
            "crash {kind}: the shell did not report the fault: {out:?}"
        );
        assert!(
            s.log().contains("(crash) killed:"),
            "the kernel did not name the faulting process"
        );
    }
    // Programs spinning forever on every core do not stall the shell.
    for _ in 0..5 {
        s.run("spin &");
    }
    s.run_expecting("echo still responsive", &["still responsive"]);
    let ps = s.run("ps");
    let spinners: Vec<&str> = ps.lines().filter(|l| l.ends_with(" spin")).collect();
    assert_eq!(spinners.len(), 5, "five spinners expected in {ps:?}");
    let mut cpus: Vec<&str> = spinners
        .iter()
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    assert!(
        cpus.len() >= 2,
        "the spinners should spread over cores: {ps:?}"
    );
    for line in &spinners {
        let pid = line.split_whitespace().next().unwrap_or_default();
        s.run(&format!("kill {pid}"));
    }
    // Ctrl-C kills the foreground program.
    s.send_line("spin");
    std::thread::sleep(Duration::from_millis(500));
    s.send(b"\x03");
    s.expect("sh: spin: killed", Duration::from_secs(30));
    s.expect("# ", Duration::from_secs(30));
    s.run_expecting("echo after ctrl-c", &["after ctrl-c"]);

    // Tens of thousands of random system calls: the kernel keeps running and leaks nothing.
    let before = s.run("free");
    s.run_expecting("sysfuzz 30000 1", &["sysfuzz: 30000 calls", "ok"]);
    s.run_expecting("sysfuzz 30000 2", &["sysfuzz: 30000 calls", "ok"]);
    let after = s.run("free");
    assert_eq!(
        number_after(&before, "User:"),
        number_after(&after, "User:"),
        "user memory leaked: before {before:?}, after {after:?}"
    );
    let (heap_before, heap_after) = (
        number_after(&before, "Heap:"),
        number_after(&after, "Heap:"),
    );
    let used = |t: &str| {
        let line = t
            .lines()
            .find(|l| l.starts_with("Heap:"))
            .unwrap_or_default();
        line.split_whitespace()
            .nth(2)
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    assert!(
        used(&after) <= used(&before) + 8,
        "kernel heap use grew from {} KiB to {} KiB (heap {heap_before} -> {heap_after} KiB)",
        used(&before),
        used(&after)
    );
    // FP/SIMD registers survive switches: five programs with different register patterns share
    // the cores, each checking its own after every yield and preemption.
    for seed in 1..=4 {
        // Not `run`: a copy started earlier may finish and print in the middle of the echoed
        // command line, so wait for the shell's job notice (`[PID]`, one write) instead.
        s.send_line(&format!("fpcheck 400 {seed} &"));
        s.expect("]\n", COMMAND_TIMEOUT);
    }
    s.run_expecting(
        "fpcheck 400 5",
        &["fpcheck 5: 400 rounds, registers intact"],
    );
    // Give the background copies time to finish, then look for their reports in the whole log.
    s.run("sleeper 3000");
    for seed in 1..=4 {
        let line = format!("fpcheck {seed}: 400 rounds, registers intact");
        assert!(s.log().contains(&line), "no {line:?} in the serial log");
    }
    assert!(
        !s.log().contains("changed in round"),
        "an FP/SIMD register was not preserved"
    );
    // A file that is not an executable is refused with a clear error; the shell goes on.
    s.run_expecting("/etc/motd", &["sh: /etc/motd: exec format error"]);
    assert!(s.log().contains("exec: motd: not an ELF file"));
    // IPC between two processes: register-only and 256-byte messages.
    s.run_expecting("ipcping client 2000", &["ipcping: ok"]);
    // A peer that dies or is killed in the middle of a call.
    s.run_expecting("ipcping edges", &["ipcping: edges ok"]);
    power_off(s);
}

#[test]
fn virt_shell_commands() {
    shell_commands(Machine::Virt);
}

#[test]
fn virt_isolation_and_robustness() {
    isolation_and_robustness(Machine::Virt);
}

#[test]
fn raspi4b_shell_commands() {
    shell_commands(Machine::Raspi4b);
}

#[test]
fn raspi4b_isolation_and_robustness() {
    isolation_and_robustness(Machine::Raspi4b);
}
