//! `dd [if=FILE] [of=FILE] [bs=N] [count=N] [skip=N] [seek=N]`: copies blocks; reports
//! `N+M records in`, `N+M records out` and the bytes copied on stderr, like GNU dd. Sizes take
//! the suffixes `c w b k M G kB MB GB`.
#![no_std]
#![no_main]

extern crate alloc;

use coreutils::dd::{self, Records};
use keel_user::fs::{self, File, SeekFrom, O_CREAT, O_TRUNC, O_WRONLY};
use keel_user::io::{self, Fd, STDIN, STDOUT};
use keel_user::{eprint, eprintln, time::Instant};

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let d = match dd::parse_args(args.skip(1)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dd: {e}");
            return 1;
        }
    };
    let bs = d.bs as usize;
    let mut buf = alloc::vec::Vec::new();
    if buf.try_reserve_exact(bs).is_err() {
        eprintln!("dd: memory exhausted by bs={}", d.bs);
        return 1;
    }
    buf.resize(bs, 0u8);
    let input = match &d.input {
        None => None,
        Some(p) => match File::open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("dd: failed to open '{p}': {}", e.description());
                return 1;
            }
        },
    };
    let flags = O_WRONLY | O_CREAT | if d.seek == 0 { O_TRUNC } else { 0 };
    let output = match &d.output {
        None => None,
        Some(p) => match File::open_with(p, flags) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("dd: failed to open '{p}': {}", e.description());
                return 1;
            }
        },
    };
    let ifd: Fd = input.as_ref().map_or(STDIN, File::fd);
    let ofd: Fd = output.as_ref().map_or(STDOUT, File::fd);
    let in_name = d.input.as_deref().unwrap_or("standard input");
    let out_name = d.output.as_deref().unwrap_or("standard output");

    if d.skip > 0 {
        let off = d.skip.saturating_mul(d.bs);
        if fs::seek(ifd, SeekFrom::Start(off)).is_err() {
            // Not seekable: read and drop the blocks.
            for _ in 0..d.skip {
                match io::read(ifd, &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("dd: error reading '{in_name}': {}", e.description());
                        return 1;
                    }
                }
            }
        }
    }
    if d.seek > 0 {
        if let Err(e) = fs::seek(ofd, SeekFrom::Start(d.seek.saturating_mul(d.bs))) {
            eprintln!("dd: cannot seek '{out_name}': {}", e.description());
            return 1;
        }
    }

    let start = Instant::now();
    let mut r = Records::default();
    let mut status = 0;
    while d.count.is_none_or(|c| r.full_in + r.partial_in < c) {
        let n = match io::read(ifd, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                eprintln!("dd: error reading '{in_name}': {}", e.description());
                status = 1;
                break;
            }
        };
        if n == bs {
            r.full_in += 1;
        } else {
            r.partial_in += 1;
        }
        if let Err(e) = io::write_all(ofd, &buf[..n]) {
            eprintln!("dd: error writing '{out_name}': {}", e.description());
            status = 1;
            break;
        }
        if n == bs {
            r.full_out += 1;
        } else {
            r.partial_out += 1;
        }
        r.bytes += n as u64;
    }
    let ns = start.elapsed().as_nanos() as u64;
    eprint!("{}", dd::report(&r, ns));
    status
}
