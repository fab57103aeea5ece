//! `cargo xtask`: the one front door for building, running and testing Keel.

/// Prints a progress line of `xtask` on standard error.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("xtask: {}", format_args!($($arg)*))
    };
}

mod apt;
mod bench;
mod build;
mod cli;
mod error;
mod files;
mod firmware;
mod image;
mod initramfs;
mod layout;
mod modules;
mod prereq;
mod process;
mod profile;
mod qemu;
mod setup;
mod sources;
mod symbols;
mod system;
mod test;
mod toolchain;
mod userland;

use std::process::ExitCode;

use cli::Command;
use error::Result;
use layout::Layout;

fn run(args: &[String]) -> Result<ExitCode> {
    let layout = Layout::discover();
    match cli::parse(args)? {
        Command::Build(options) => build::build(&layout, &options).map(|_| ExitCode::SUCCESS),
        Command::Run(options) => qemu::run(&layout, &options),
        Command::Image(options) => image::image(&layout, &options).map(|()| ExitCode::SUCCESS),
        Command::Test(options) => test::test(&layout, &options).map(|()| ExitCode::SUCCESS),
        Command::Bench(options) => bench::bench(&layout, &options).map(|()| ExitCode::SUCCESS),
        Command::Module(options) => modules::module(&layout, &options).map(|_| ExitCode::SUCCESS),
        Command::Setup => setup::setup(&layout).map(|()| ExitCode::SUCCESS),
        Command::Help => {
            println!("{}", cli::USAGE);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
