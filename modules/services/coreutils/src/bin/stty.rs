//! `stty`: prints or changes a terminal's line settings. See `coreutils::stty` for the syntax.
#![no_std]
#![no_main]

extern crate alloc;

use coreutils::stty::{self, USAGE};
use keel_user::fs::{File, O_RDWR};
use keel_user::io::{Fd, STDIN};
use keel_user::tty;
use keel_user::{eprintln, println};

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let args: alloc::vec::Vec<&str> = args.skip(1).collect();
    let command = match stty::parse(args.iter().copied()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stty: {e}\n{USAGE}");
            return 2;
        }
    };
    let name = command.device.as_deref().unwrap_or("standard input");
    let file = match &command.device {
        Some(path) => match File::open_with(path, O_RDWR) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("stty: {name}: {}", e.description());
                return 1;
            }
        },
        None => None,
    };
    let fd: Fd = file.as_ref().map_or(STDIN, |f| f.fd());
    let result = tty::get_termios(fd).and_then(|current| {
        if command.settings.is_empty() {
            println!("{}", stty::show(&current));
            return Ok(());
        }
        // `parse` already checked every setting.
        let wanted = stty::apply(&current, &command.settings).unwrap_or(current);
        tty::set_termios(fd, &wanted)
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("stty: {name}: {}", e.description());
            1
        }
    }
}
