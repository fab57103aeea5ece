//! `gpio`: reads and drives the lines of a GPIO controller (`/dev/gpiochipN`) and waits for
//! their edges and levels. See `coreutils::gpio` for the syntax.
#![no_std]
#![no_main]

use coreutils::gpio::{self, Action, USAGE};
use keel_user::gpio::Chip;
use keel_user::{eprintln, println};

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let args: alloc::vec::Vec<&str> = args.skip(1).collect();
    let command = match gpio::parse(args.iter().copied()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gpio: {e}\n{USAGE}");
            return 2;
        }
    };
    let chip = match Chip::open(&command.chip) {
        Ok(chip) => chip,
        Err(e) => {
            eprintln!("gpio: {}: {}", command.chip, e.description());
            return 1;
        }
    };
    match run(&chip, &command.action) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("gpio: {}: {}", command.chip, e.description());
            1
        }
    }
}

extern crate alloc;

fn run(chip: &Chip, action: &Action) -> keel_user::Result<()> {
    let line = match *action {
        Action::Info => {
            let info = chip.info()?;
            let driver =
                core::str::from_utf8(&info.driver[..info.driver_len as usize]).unwrap_or("?");
            println!("{} lines, driver {driver}", info.lines);
            return Ok(());
        }
        Action::Get(l)
        | Action::Set(l, _)
        | Action::Mode(l, _)
        | Action::Pull(l, _)
        | Action::Wait(l, _) => l,
    };
    chip.request(line)?;
    match *action {
        Action::Get(_) => println!("{}", u8::from(chip.get(line)?)),
        Action::Set(_, high) => chip.set_direction(line, true, high)?,
        Action::Mode(_, output) => chip.set_direction(line, output, false)?,
        Action::Pull(_, pull) => chip.set_pull(line, pull)?,
        Action::Wait(_, edges) => {
            println!("waiting for line {line}");
            let (edge, ns) = chip.wait(line, edges)?;
            println!(
                "line {line}: {} at {}.{:06} s",
                gpio::event_name(edge),
                ns / 1_000_000_000,
                ns % 1_000_000_000 / 1000
            );
        }
        Action::Info => {}
    }
    Ok(())
}
