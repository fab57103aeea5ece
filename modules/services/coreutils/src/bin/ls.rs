//! `ls [-l] [-a] [PATH...]`: lists directories (names sorted, one per line); `-l` adds the kind,
//! permissions and size.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use keel_abi::types::{FileKind, Stat};
use keel_user::{eprintln, fs, io};

keel_user::main!(main);

fn kind_char(kind: Option<FileKind>) -> char {
    match kind {
        Some(FileKind::Dir) => 'd',
        Some(FileKind::CharDev) => 'c',
        Some(FileKind::BlockDev) => 'b',
        Some(FileKind::Pipe) => 'p',
        Some(FileKind::Symlink) => 'l',
        Some(FileKind::File) => '-',
        None => '?',
    }
}

fn entry_line(out: &mut String, long: bool, name: &str, st: Option<&Stat>) {
    if long {
        match st {
            Some(st) => {
                let mode = coreutils::fmt::mode_string(kind_char(fs::kind(st.kind)), st.mode);
                let _ = writeln!(out, "{mode} {:>9} {name}", st.size);
            }
            None => {
                let _ = writeln!(out, "?????????? {:>9} {name}", "?");
            }
        }
    } else {
        let _ = writeln!(out, "{name}");
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn main(args: keel_user::Args) -> i32 {
    let mut long = false;
    let mut all = false;
    let mut paths: Vec<&str> = Vec::new();
    for a in args.skip(1) {
        match a {
            "-l" => long = true,
            "-a" => all = true,
            "-la" | "-al" => (long, all) = (true, true),
            _ if a.starts_with('-') && a.len() > 1 => {
                eprintln!("ls: unknown option '{a}' (usage: ls [-l] [-a] [PATH...])");
                return 2;
            }
            _ => paths.push(a),
        }
    }
    if paths.is_empty() {
        paths.push(".");
    }
    let many = paths.len() > 1;
    let mut status = 0;
    let mut out = String::new();
    for (i, path) in paths.iter().enumerate() {
        let st = match fs::stat(path) {
            Ok(st) => st,
            Err(e) => {
                eprintln!("ls: {path}: {}", e.description());
                status = 1;
                continue;
            }
        };
        if fs::kind(st.kind) != Some(FileKind::Dir) {
            entry_line(&mut out, long, path, Some(&st));
            continue;
        }
        let entries = match fs::read_dir(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("ls: {path}: {}", e.description());
                status = 1;
                continue;
            }
        };
        let mut names: Vec<String> = Vec::new();
        for e in entries {
            match e {
                Ok(e) => {
                    if all || !e.name.starts_with('.') {
                        names.push(e.name);
                    }
                }
                Err(e) => {
                    eprintln!("ls: {path}: {}", e.description());
                    status = 1;
                    break;
                }
            }
        }
        names.sort();
        if many {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{path}:");
        }
        for name in &names {
            let st = if long {
                fs::stat(&join(path, name)).ok()
            } else {
                None
            };
            entry_line(&mut out, long, name, st.as_ref());
        }
        let _ = io::write_all(io::STDOUT, out.as_bytes());
        out.clear();
    }
    let _ = io::write_all(io::STDOUT, out.as_bytes());
    status
}
