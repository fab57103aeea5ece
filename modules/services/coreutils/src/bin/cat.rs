//! `cat [FILE...]`: copies files (stdin when none or `-`) to stdout.
#![no_std]
#![no_main]

use keel_user::fs::File;
use keel_user::io::{self, Fd, STDIN, STDOUT};
use keel_user::{eprintln, Error};

keel_user::main!(main);

/// Copies `fd` to stdout.
fn copy(fd: Fd) -> Result<(), (bool, Error)> {
    let mut buf = [0u8; 4096];
    loop {
        match io::read(fd, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => io::write_all(STDOUT, &buf[..n]).map_err(|e| (true, e))?,
            Err(e) => return Err((false, e)),
        }
    }
}

fn main(args: keel_user::Args) -> i32 {
    let files: alloc::vec::Vec<&str> = args.skip(1).collect();
    let files = if files.is_empty() {
        alloc::vec!["-"]
    } else {
        files
    };
    let mut status = 0;
    for name in files {
        let result = if name == "-" {
            copy(STDIN)
        } else {
            match File::open(name) {
                Ok(f) => copy(f.fd()),
                Err(e) => Err((false, e)),
            }
        };
        match result {
            Ok(()) => {}
            // Writing failed (a closed pipe): nothing more can be written.
            Err((true, Error::EPIPE)) => return 1,
            Err((true, e)) => {
                eprintln!("cat: write error: {}", e.description());
                return 1;
            }
            Err((false, e)) => {
                eprintln!("cat: {name}: {}", e.description());
                status = 1;
            }
        }
    }
    status
}

extern crate alloc;
