//! `uptime`: the time since the kernel started (`up 0:00:12`).
#![no_std]
#![no_main]

keel_user::main!(main);

fn main(_: keel_user::Args) -> i32 {
    keel_user::println!(
        "{}",
        coreutils::fmt::uptime(keel_user::time::uptime().as_secs())
    );
    0
}
