//! `sleep SECONDS`: waits (fractions and the suffixes `s`, `m`, `h`, `d` allowed).
#![no_std]
#![no_main]

use keel_user::{eprintln, process};

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let Some(arg) = args.arg(1) else {
        eprintln!("usage: sleep SECONDS");
        return 2;
    };
    match coreutils::fmt::parse_duration(arg) {
        Some(d) => {
            process::sleep(d);
            0
        }
        None => {
            eprintln!("sleep: invalid time interval '{arg}'");
            1
        }
    }
}
