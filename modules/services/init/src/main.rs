//! `/sbin/init`, process 1: starts the entries of `/etc/inittab` in order, restarts the
//! `respawn` ones when they end (pausing when one keeps dying at once), and reaps every child,
//! orphans included.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use init::backoff::{Backoff, PAUSE_NS};
use init::inittab::{self, Action, Entry};
use keel_user::process::{self, Command, ExitStatus, Pid};
use keel_user::{eprintln, fs, println, time, Error};

keel_user::main!(main);

/// Used when `/etc/inittab` cannot be read or names nothing to start.
const FALLBACK: &str = "respawn:power,modules,kill,klog:/bin/sh";

/// Time between retries of a respawn entry that failed to start.
const RETRY_NS: u64 = PAUSE_NS;

struct Slot {
    entry: Entry,
    pid: Option<Pid>,
    backoff: Backoff,
    /// Monotonic time at which to retry a respawn entry that could not start.
    retry_at: Option<u64>,
}

fn main(_args: keel_user::Args) -> i32 {
    let text = match fs::read_to_string("/etc/inittab") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("init: cannot read /etc/inittab: {e}; using '{FALLBACK}'");
            FALLBACK.into()
        }
    };
    let (mut entries, errors) = inittab::parse(&text);
    for e in &errors {
        eprintln!("init: {e}; line skipped");
    }
    if entries.is_empty() {
        eprintln!("init: /etc/inittab starts nothing; using '{FALLBACK}'");
        entries = inittab::parse(FALLBACK).0;
    }
    let mut slots: Vec<Slot> = entries
        .into_iter()
        .map(|entry| Slot {
            entry,
            pid: None,
            backoff: Backoff::new(),
            retry_at: None,
        })
        .collect();

    for i in 0..slots.len() {
        start(&mut slots[i]);
        if slots[i].entry.action == Action::Wait {
            while let Some(pid) = slots[i].pid {
                match process::wait_any() {
                    Ok((p, status)) => {
                        reaped(&mut slots, p, status);
                        if p == pid {
                            break;
                        }
                    }
                    Err(e) => {
                        eprintln!("init: wait: {e}");
                        break;
                    }
                }
            }
        }
    }

    loop {
        let next_retry = slots.iter().filter_map(|s| s.retry_at).min();
        let result = match next_retry {
            // Somebody waits for a retry: poll, and sleep a little between polls.
            Some(_) => process::try_wait(None),
            None => process::wait_any().map(Some),
        };
        match result {
            Ok(Some((pid, status))) => reaped(&mut slots, pid, status),
            Ok(None) | Err(Error::ECHILD) => {
                let now = time::monotonic_ns();
                match next_retry {
                    Some(at) if at <= now => retry_due(&mut slots, now),
                    Some(at) => process::sleep(core::time::Duration::from_nanos(
                        (at - now).min(200_000_000),
                    )),
                    // No children and nothing to retry: orphans may still be re-parented to us.
                    None => process::sleep_ms(1000),
                }
            }
            Err(e) => {
                eprintln!("init: wait: {e}");
                process::sleep_ms(1000);
            }
        }
    }
}

/// Starts a slot's program; a respawn entry that cannot start is retried later.
fn start(slot: &mut Slot) {
    let e = &slot.entry;
    let result = Command::new(&e.command).args(&e.args).caps(e.caps).spawn();
    match result {
        Ok(pid) => {
            println!("init: started {} (pid {pid})", e.command);
            slot.pid = Some(pid);
            slot.retry_at = None;
        }
        Err(err) => {
            slot.pid = None;
            if e.action == Action::Respawn {
                eprintln!("init: cannot start {}: {err}; retrying in 5 s", e.command);
                slot.retry_at = Some(time::monotonic_ns() + RETRY_NS);
            } else {
                eprintln!("init: cannot start {}: {err}", e.command);
            }
        }
    }
}

fn retry_due(slots: &mut [Slot], now: u64) {
    for slot in slots.iter_mut() {
        if slot.retry_at.is_some_and(|at| at <= now) {
            start(slot);
        }
    }
}

/// Handles the end of process `pid`: restarts it if it is a respawn entry.
fn reaped(slots: &mut [Slot], pid: Pid, status: ExitStatus) {
    let Some(slot) = slots.iter_mut().find(|s| s.pid == Some(pid)) else {
        // An orphan re-parented to init, or a child of a `once` entry: reaped, nothing to do.
        return;
    };
    slot.pid = None;
    let cmd = &slot.entry.command;
    let how = describe(status);
    match slot.entry.action {
        Action::Respawn => {
            println!("init: {cmd} (pid {pid}) {how}; restarting");
            let pause = slot.backoff.restart(time::monotonic_ns());
            if pause > 0 {
                println!(
                    "init: {cmd} is respawning too fast; waiting {} s",
                    pause / 1_000_000_000
                );
                process::sleep(core::time::Duration::from_nanos(pause));
            }
            start(slot);
        }
        Action::Once | Action::Wait => {
            if !status.success() {
                println!("init: {cmd} (pid {pid}) {how}");
            }
        }
    }
}

fn describe(status: ExitStatus) -> alloc::string::String {
    if status.faulted() {
        "was killed (fault)".into()
    } else if status.killed() {
        "was killed".into()
    } else {
        alloc::format!("exited with status {}", status.code())
    }
}
