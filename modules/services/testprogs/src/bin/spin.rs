//! `spin`: loops for ever (the kernel's preemption and kill tests).
#![no_std]
#![no_main]

keel_user::main!(main);

fn main(_: keel_user::Args) -> i32 {
    loop {
        core::hint::spin_loop();
    }
}
