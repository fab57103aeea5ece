//! `sleeper MS`: sleeps MS milliseconds (default 1000), then exits with status 0.
#![no_std]
#![no_main]

keel_user::main!(main);

fn main(args: keel_user::Args) -> i32 {
    let ms = match args.arg(1).map(str::parse::<u64>) {
        None => 1000,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            keel_user::eprintln!("usage: sleeper MS");
            return 2;
        }
    };
    keel_user::process::sleep_ms(ms);
    0
}
