//! `ps`: the process list (PID PPID STATE CPU TIME MEM NAME).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use core::fmt::Write;
use keel_abi::types::proc_state;
use keel_user::{eprintln, io, process};

keel_user::main!(main);

fn main(_: keel_user::Args) -> i32 {
    let mut list = match process::proclist() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ps: {}", e.description());
            return 1;
        }
    };
    list.sort_by_key(|p| p.pid);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>5} {:<7} {:>3} {:>9} {:>8} NAME",
        "PID", "PPID", "STATE", "CPU", "TIME", "MEM"
    );
    for p in &list {
        let state = match p.state {
            proc_state::RUNNING => "run",
            proc_state::READY => "ready",
            proc_state::BLOCKED => "blocked",
            proc_state::ZOMBIE => "zombie",
            _ => "?",
        };
        let _ = writeln!(
            out,
            "{:>5} {:>5} {:<7} {:>3} {:>9} {:>7}K {}",
            p.pid,
            p.ppid,
            state,
            p.cpu,
            coreutils::fmt::cpu_time(p.cpu_ns),
            p.mem_bytes / 1024,
            String::from_utf8_lossy(p.name())
        );
    }
    let _ = io::write_all(io::STDOUT, out.as_bytes());
    0
}
