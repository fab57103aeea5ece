//! `free`: memory use in KiB (system RAM, the kernel heap, user pages).
#![no_std]
#![no_main]

use keel_user::{eprintln, mem, println};

keel_user::main!(main);

fn main(_: keel_user::Args) -> i32 {
    let m = match mem::meminfo() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("free: {}", e.description());
            return 1;
        }
    };
    let k = |b: u64| b / 1024;
    println!("{:>6} {:>11} {:>11} {:>11}", "", "total", "used", "free");
    println!(
        "{:<6} {:>11} {:>11} {:>11}",
        "Mem:",
        k(m.total),
        k(m.total.saturating_sub(m.free)),
        k(m.free)
    );
    println!(
        "{:<6} {:>11} {:>11} {:>11}",
        "Heap:",
        k(m.heap_total),
        k(m.heap_used),
        k(m.heap_total.saturating_sub(m.heap_used))
    );
    println!("{:<6} {:>11}", "User:", k(m.user));
    println!("{:<6} {:>11}", "Kernel:", k(m.kernel_image));
    0
}
