//! `hexdump [-C] [-n LEN] [-s OFF] [FILE]`: the canonical hex + ASCII dump (util-linux's
//! `hexdump -C` layout, which is the only one offered). Sizes accept `0x` and the suffixes of
//! `dd` (`k`, `M`...). Reads stdin when FILE is absent or `-`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use coreutils::hexdump::HexDump;
use keel_user::fs::{self, File, SeekFrom};
use keel_user::io::{self, Fd, STDIN, STDOUT};
use keel_user::{eprintln, Error};

keel_user::main!(main);

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => coreutils::dd::parse_size(s),
    }
}

fn usage() -> i32 {
    eprintln!("usage: hexdump -C [-n LEN] [-s OFF] [FILE]");
    2
}

fn main(args: keel_user::Args) -> i32 {
    let mut len: Option<u64> = None;
    let mut skip = 0u64;
    let mut file: Option<&str> = None;
    let mut args = args.skip(1);
    while let Some(a) = args.next() {
        match a {
            "-C" => {}
            "-n" | "-s" => {
                let Some(v) = args.next().and_then(parse_num) else {
                    eprintln!("hexdump: {a} needs a number");
                    return usage();
                };
                if a == "-n" {
                    len = Some(v);
                } else {
                    skip = v;
                }
            }
            _ if a.starts_with('-') && a != "-" => {
                eprintln!("hexdump: unknown option '{a}'");
                return usage();
            }
            _ if file.is_none() => file = Some(a),
            _ => return usage(),
        }
    }
    let name = file.unwrap_or("-");
    let opened;
    let fd: Fd = if name == "-" {
        STDIN
    } else {
        match File::open(name) {
            Ok(f) => {
                opened = f;
                opened.fd()
            }
            Err(e) => {
                eprintln!("hexdump: {name}: {}", e.description());
                return 1;
            }
        }
    };
    let mut buf = [0u8; 4096];
    // Skip: seek when possible, else read and drop.
    let mut pos = 0u64;
    if skip > 0 {
        match fs::seek(fd, SeekFrom::Start(skip)) {
            Ok(_) => {
                pos = match fs::fstat(fd) {
                    Ok(st) if fs::kind(st.kind) == Some(keel_abi::types::FileKind::File) => {
                        skip.min(st.size)
                    }
                    _ => skip,
                }
            }
            Err(_) => {
                while pos < skip {
                    let want = ((skip - pos) as usize).min(buf.len());
                    match io::read(fd, &mut buf[..want]) {
                        Ok(0) => break,
                        Ok(n) => pos += n as u64,
                        Err(e) => {
                            eprintln!("hexdump: {name}: {}", e.description());
                            return 1;
                        }
                    }
                }
            }
        }
    }
    if len == Some(0) {
        return 0;
    }
    let mut dump = HexDump::new(pos);
    let mut out = String::new();
    let mut left = len.unwrap_or(u64::MAX);
    while left > 0 {
        let want = (left.min(buf.len() as u64)) as usize;
        let n = match io::read(fd, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                eprintln!("hexdump: {name}: {}", e.description());
                return 1;
            }
        };
        left -= n as u64;
        dump.push(&buf[..n], &mut out);
        if out.len() >= 4096 {
            match io::write_all(STDOUT, out.as_bytes()) {
                Ok(()) => out.clear(),
                Err(Error::EPIPE) => return 1,
                Err(e) => {
                    eprintln!("hexdump: write error: {}", e.description());
                    return 1;
                }
            }
        }
    }
    dump.finish(&mut out, skip > 0);
    let _ = io::write_all(STDOUT, out.as_bytes());
    0
}
