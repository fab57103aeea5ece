//! `echo [-n] ARGS...`: prints the arguments joined by spaces (`-n`: without the newline).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let mut args = args.skip(1).peekable();
    let newline = args.next_if_eq(&"-n").is_none();
    let mut text = String::new();
    for (i, a) in args.enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(a);
    }
    if newline {
        text.push('\n');
    }
    match keel_user::io::write_all(keel_user::io::STDOUT, text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            keel_user::eprintln!("echo: {}", e.description());
            1
        }
    }
}
