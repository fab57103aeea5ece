//! `true`: exits with status 0.
#![no_std]
#![no_main]

keel_user::main!(main);

fn main(_: keel_user::Args) -> i32 {
    0
}
