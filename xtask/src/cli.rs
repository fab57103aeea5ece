//! The `cargo xtask` command line: subcommands and options, parsed by hand.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Usage text printed by `cargo xtask help`.
pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build [--board virt|rpi4] [--test-kernel] [--firmware DIR] [--add HOST:GUEST]...
        build the kernel into target/dist/<board>/ (kernel8.img, keel.elf; test kernels go into
        target/dist/<board>/test/), the modules of modules/drivers/ into target/dist/<board>/modules/
        (NAME.ko, modules.dep, modules.alias) and the user programs, /etc files and modules into
        target/dist/<board>/initramfs.cpio; rpi4 adds config.txt, the firmware and the device tree
  run [--board virt|raspi4b] [--test-kernel] [--append BOOTARGS] [--firmware DIR]
      [--add HOST:GUEST]... [-- QEMU ARGS]
        build, then boot the kernel and its initramfs in QEMU with the terminal attached (quit:
        Ctrl-A X)
  image [--board rpi4] [--firmware DIR] [--add HOST:GUEST]... [--out PATH]
        write a bootable SD card image for a Raspberry Pi 4 (default target/dist/rpi4/keel-rpi4.img)
  test [--firmware DIR]
        host unit tests, all kernel builds and the SD image, then the QEMU integration tests
  bench [--board virt|raspi4b] [--quick] [--profile GROUP] [--firmware DIR]
        boot the normal kernel twice with QEMU counting instructions (one instruction is one
        nanosecond of virtual time; one core on virt, raspi4b always has four), run /bin/bench,
        print its figures, say whether the two runs agree, and write target/bench/<board>.json;
        --quick runs fewer iterations; --profile GROUP boots once, runs only that group of
        figures (syscalls, switches, ipc, notify, pipe, mapping, writes, sdcard, modules, timer)
        quickly with QEMU logging every block it runs, and prints the instructions per function
  module --path DIR [--out DIR]
        build the out-of-tree module crate in DIR (which depends on sdk/module by path) into
        NAME.ko, with its own target directory DIR/target; the .ko goes into --out or
        DIR/target/aarch64-unknown-none-softfloat/release/
  setup
        install the host prerequisites (Debian; run as root: sudo cargo xtask setup)
  help
        show this text

--firmware DIR takes start4.elf, fixup4.dat (and bcm2711-rpi-4-b.dtb if present) from DIR instead
of Debian's packages. The board names rpi4 and raspi4b are interchangeable.

The initramfs holds the user programs of modules/services/ (init as /sbin/init, the others as
/bin/NAME), the files of modules/rootfs/ at /, kernel modules at /lib/modules/, and empty /dev,
/tmp and /proc. --add HOST:GUEST (repeatable) puts more into it: the file HOST at the absolute path
GUEST, or the directory HOST with everything in it at GUEST (HOST relative to the current
directory). Later --add options override earlier ones and everything else.";

/// The machines Keel is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// QEMU's `virt` machine.
    Virt,
    /// The Raspberry Pi 4 Model B, real or QEMU's `raspi4b`.
    Rpi4,
}

impl Board {
    /// Every board, in the order builds and tests visit them.
    pub const ALL: [Board; 2] = [Board::Virt, Board::Rpi4];

    /// The name of the board's folder under `target/dist/`.
    pub fn dist_name(self) -> &'static str {
        match self {
            Board::Virt => "virt",
            Board::Rpi4 => "rpi4",
        }
    }

    fn parse(name: &str) -> Option<Board> {
        match name {
            "virt" => Some(Board::Virt),
            "rpi4" | "raspi4b" => Some(Board::Rpi4),
            _ => None,
        }
    }
}

/// Which kernel build to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// The normal kernel.
    Normal,
    /// The test kernel (`--features qemu-test`): runs in-kernel tests and exits through semihosting.
    Test,
}

/// One `--add HOST:GUEST` option: something from the host to put into the initramfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addition {
    /// The file or directory on the host.
    pub host: PathBuf,
    /// Where it goes in the initramfs; always absolute.
    pub guest: String,
}

impl Addition {
    /// Parses `HOST:GUEST`, split at the last `:`; `GUEST` must be absolute.
    pub fn parse(spec: &str) -> Result<Addition> {
        let usage = |why: &str| {
            Error::Usage(format!(
                "`--add {spec}`: {why}; write `--add HOSTPATH:GUESTPATH`, for example \
                 `--add target/hello:/bin/hello`"
            ))
        };
        let Some((host, guest)) = spec.rsplit_once(':') else {
            return Err(usage(
                "there is no `:` between the host path and the guest path",
            ));
        };
        if host.is_empty() {
            return Err(usage("the host path is empty"));
        }
        if !guest.starts_with('/') {
            return Err(usage(&format!(
                "the guest path `{guest}` is not absolute (it must start with `/`)"
            )));
        }
        Ok(Addition {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// Options of `cargo xtask build`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// The board to build for.
    pub board: Board,
    /// Normal or test kernel.
    pub kernel: KernelKind,
    /// Where to take the Raspberry Pi firmware from instead of Debian's packages.
    pub firmware: Option<PathBuf>,
    /// `--add` options: more files for the initramfs, in command-line order.
    pub add: Vec<Addition>,
}

/// Options of `cargo xtask run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// What to build.
    pub build: BuildOptions,
    /// The kernel command line (`-append`).
    pub append: Option<String>,
    /// Extra arguments given to QEMU after `--`.
    pub qemu_args: Vec<String>,
}

/// Options of `cargo xtask image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    /// Where to take the Raspberry Pi firmware from instead of Debian's packages.
    pub firmware: Option<PathBuf>,
    /// Where to write the image (default `target/dist/rpi4/keel-rpi4.img`).
    pub out: Option<PathBuf>,
    /// `--add` options: more files for the initramfs, in command-line order.
    pub add: Vec<Addition>,
}

/// Options of `cargo xtask test`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOptions {
    /// Where to take the Raspberry Pi firmware from instead of Debian's packages.
    pub firmware: Option<PathBuf>,
}

/// Options of `cargo xtask bench`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// The board to measure.
    pub board: Board,
    /// Fewer iterations.
    pub quick: bool,
    /// Profile this group of figures instead of measuring them all.
    pub profile: Option<String>,
    /// Where to take the Raspberry Pi firmware from instead of Debian's packages.
    pub firmware: Option<PathBuf>,
}

/// Options of `cargo xtask module`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleOptions {
    /// The module crate's folder (holding its `Cargo.toml`).
    pub path: PathBuf,
    /// Where to put `NAME.ko` (default: the crate's release folder under `DIR/target/`).
    pub out: Option<PathBuf>,
}

/// A parsed `cargo xtask` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `cargo xtask build`.
    Build(BuildOptions),
    /// `cargo xtask run`.
    Run(RunOptions),
    /// `cargo xtask image`.
    Image(ImageOptions),
    /// `cargo xtask test`.
    Test(TestOptions),
    /// `cargo xtask bench`.
    Bench(BenchOptions),
    /// `cargo xtask module`.
    Module(ModuleOptions),
    /// `cargo xtask setup`.
    Setup,
    /// `cargo xtask help` (also `-h`, `--help`, or no command at all).
    Help,
}

/// Walks the arguments of one subcommand.
struct Args<'a> {
    command: &'static str,
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    /// The value of option `name`, given as `--name VALUE` (`inline` holds `VALUE` of `--name=VALUE`).
    fn value(&mut self, name: &str, inline: Option<&str>) -> Result<String> {
        match inline {
            Some(value) => Ok(value.to_string()),
            None => self.rest.next().cloned().ok_or_else(|| {
                Error::Usage(format!(
                    "option `{name}` of `cargo xtask {}` needs a value",
                    self.command
                ))
            }),
        }
    }

    fn unknown(&self, arg: &str) -> Error {
        Error::Usage(format!(
            "`cargo xtask {}` does not take the argument `{arg}`",
            self.command
        ))
    }
}

/// Which options a subcommand accepts.
#[derive(Clone, Copy)]
struct Accepts {
    board: bool,
    test_kernel: bool,
    firmware: bool,
    append: bool,
    out: bool,
    path: bool,
    qemu_args: bool,
    add: bool,
    quick: bool,
    profile: bool,
}

const NOTHING: Accepts = Accepts {
    board: false,
    test_kernel: false,
    firmware: false,
    append: false,
    out: false,
    path: false,
    qemu_args: false,
    add: false,
    quick: false,
    profile: false,
};

/// Everything any subcommand can be given.
#[derive(Default)]
struct Parsed {
    board: Option<Board>,
    test_kernel: bool,
    firmware: Option<PathBuf>,
    append: Option<String>,
    out: Option<PathBuf>,
    path: Option<PathBuf>,
    qemu_args: Vec<String>,
    add: Vec<Addition>,
    quick: bool,
    profile: Option<String>,
}

impl Parsed {
    fn build_options(&self, default_board: Board) -> BuildOptions {
        BuildOptions {
            board: self.board.unwrap_or(default_board),
            kernel: if self.test_kernel {
                KernelKind::Test
            } else {
                KernelKind::Normal
            },
            firmware: self.firmware.clone(),
            add: self.add.clone(),
        }
    }
}

fn parse_options(command: &'static str, args: &[String], accepts: Accepts) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut args = Args {
        command,
        rest: args.iter(),
    };
    while let Some(arg) = args.rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (arg.as_str(), None),
        };
        match name {
            "--board" if accepts.board => {
                let value = args.value(name, inline)?;
                parsed.board = Some(Board::parse(&value).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown board `{value}` for `cargo xtask {command}`; the boards are \
                         `virt` and `rpi4` (also called `raspi4b`)"
                    ))
                })?);
            }
            "--test-kernel" if accepts.test_kernel && inline.is_none() => parsed.test_kernel = true,
            "--quick" if accepts.quick && inline.is_none() => parsed.quick = true,
            "--profile" if accepts.profile => {
                let group = args.value(name, inline)?;
                if !crate::bench::GROUPS.contains(&group.as_str()) {
                    return Err(Error::Usage(format!(
                        "unknown group `{group}` for `cargo xtask bench --profile`; the groups \
                         are {}",
                        crate::bench::GROUPS.join(", ")
                    )));
                }
                parsed.profile = Some(group);
            }
            "--firmware" if accepts.firmware => {
                parsed.firmware = Some(PathBuf::from(args.value(name, inline)?))
            }
            "--append" if accepts.append => parsed.append = Some(args.value(name, inline)?),
            "--out" if accepts.out => parsed.out = Some(PathBuf::from(args.value(name, inline)?)),
            "--add" if accepts.add => parsed
                .add
                .push(Addition::parse(&args.value(name, inline)?)?),
            "--path" if accepts.path => {
                parsed.path = Some(PathBuf::from(args.value(name, inline)?))
            }
            "--" if accepts.qemu_args => parsed.qemu_args = args.rest.by_ref().cloned().collect(),
            _ => return Err(args.unknown(arg)),
        }
    }
    Ok(parsed)
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let build_like = Accepts {
        board: true,
        test_kernel: true,
        firmware: true,
        add: true,
        ..NOTHING
    };
    match command.as_str() {
        "build" => {
            let parsed = parse_options("build", rest, build_like)?;
            Ok(Command::Build(parsed.build_options(Board::Virt)))
        }
        "run" => {
            let accepts = Accepts {
                append: true,
                qemu_args: true,
                ..build_like
            };
            let parsed = parse_options("run", rest, accepts)?;
            Ok(Command::Run(RunOptions {
                build: parsed.build_options(Board::Virt),
                append: parsed.append,
                qemu_args: parsed.qemu_args,
            }))
        }
        "image" => {
            let accepts = Accepts {
                board: true,
                firmware: true,
                out: true,
                add: true,
                ..NOTHING
            };
            let parsed = parse_options("image", rest, accepts)?;
            if parsed.board == Some(Board::Virt) {
                return Err(Error::Usage(
                    "`cargo xtask image` writes SD card images for the Raspberry Pi 4 only \
                     (`--board rpi4`); QEMU virt boots the kernel directly"
                        .to_string(),
                ));
            }
            Ok(Command::Image(ImageOptions {
                firmware: parsed.firmware,
                out: parsed.out,
                add: parsed.add,
            }))
        }
        "test" => {
            let accepts = Accepts {
                firmware: true,
                ..NOTHING
            };
            let parsed = parse_options("test", rest, accepts)?;
            Ok(Command::Test(TestOptions {
                firmware: parsed.firmware,
            }))
        }
        "bench" => {
            let accepts = Accepts {
                board: true,
                quick: true,
                profile: true,
                firmware: true,
                ..NOTHING
            };
            let parsed = parse_options("bench", rest, accepts)?;
            Ok(Command::Bench(BenchOptions {
                board: parsed.board.unwrap_or(Board::Virt),
                quick: parsed.quick,
                profile: parsed.profile,
                firmware: parsed.firmware,
            }))
        }
        "module" => {
            let accepts = Accepts {
                path: true,
                out: true,
                ..NOTHING
            };
            let parsed = parse_options("module", rest, accepts)?;
            let path = parsed.path.ok_or_else(|| {
                Error::Usage(
                    "`cargo xtask module` needs `--path DIR`, the folder of the module crate"
                        .to_string(),
                )
            })?;
            Ok(Command::Module(ModuleOptions {
                path,
                out: parsed.out,
            }))
        }
        "setup" => {
            parse_options("setup", rest, NOTHING)?;
            Ok(Command::Setup)
        }
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(Error::Usage(format!(
            "unknown command `cargo xtask {other}`; the commands are build, run, image, test, \
             bench, module, setup and help"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn build(board: Board, kernel: KernelKind) -> BuildOptions {
        BuildOptions {
            board,
            kernel,
            firmware: None,
            add: Vec::new(),
        }
    }

    #[test]
    fn no_command_is_help() {
        assert_eq!(parse(&[]).unwrap(), Command::Help);
        assert_eq!(parse_str("--help").unwrap(), Command::Help);
    }

    #[test]
    fn build_defaults_to_the_normal_virt_kernel() {
        assert_eq!(
            parse_str("build").unwrap(),
            Command::Build(build(Board::Virt, KernelKind::Normal))
        );
    }

    #[test]
    fn build_takes_board_and_test_kernel_in_both_spellings() {
        let expected = Command::Build(build(Board::Rpi4, KernelKind::Test));
        assert_eq!(
            parse_str("build --board rpi4 --test-kernel").unwrap(),
            expected
        );
        assert_eq!(
            parse_str("build --test-kernel --board=raspi4b").unwrap(),
            expected
        );
    }

    #[test]
    fn run_keeps_append_and_everything_after_the_separator() {
        let args: Vec<String> = [
            "run",
            "--board",
            "raspi4b",
            "--append",
            "keel.test=fault keel.halt=poweroff",
            "--",
            "-d",
            "int",
            "--board",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            parse(&args).unwrap(),
            Command::Run(RunOptions {
                build: build(Board::Rpi4, KernelKind::Normal),
                append: Some("keel.test=fault keel.halt=poweroff".to_string()),
                qemu_args: vec!["-d".into(), "int".into(), "--board".into()],
            })
        );
    }

    #[test]
    fn image_takes_firmware_and_out() {
        assert_eq!(
            parse_str("image --board rpi4 --firmware fw --out=card.img").unwrap(),
            Command::Image(ImageOptions {
                firmware: Some("fw".into()),
                out: Some("card.img".into()),
                add: Vec::new(),
            })
        );
    }

    #[test]
    fn module_takes_a_path_and_an_optional_out() {
        assert_eq!(
            parse_str("module --path ../mymod --out=dist").unwrap(),
            Command::Module(ModuleOptions {
                path: "../mymod".into(),
                out: Some("dist".into()),
            })
        );
        let message = parse_str("module").unwrap_err().to_string();
        assert!(message.contains("needs `--path DIR`"));
        assert!(parse_str("module --path x --board virt").is_err());
    }

    #[test]
    fn mistakes_are_reported_with_the_command() {
        let message = parse_str("build --bord virt").unwrap_err().to_string();
        assert!(message.contains("`cargo xtask build` does not take the argument `--bord`"));
        let message = parse_str("run --board pi5").unwrap_err().to_string();
        assert!(message.contains("unknown board `pi5`"));
        let message = parse_str("run --append").unwrap_err().to_string();
        assert!(message.contains("option `--append` of `cargo xtask run` needs a value"));
        assert!(parse_str("image --board virt").is_err());
        assert!(parse_str("build --append x").is_err());
        assert!(parse_str("build -- -d int").is_err());
        assert!(parse_str("setup --force").is_err());
        assert!(parse_str("flash").is_err());
    }

    #[test]
    fn bench_takes_a_board_and_quick() {
        assert_eq!(
            parse_str("bench").unwrap(),
            Command::Bench(BenchOptions {
                board: Board::Virt,
                quick: false,
                profile: None,
                firmware: None,
            })
        );
        assert_eq!(
            parse_str("bench --board raspi4b --quick").unwrap(),
            Command::Bench(BenchOptions {
                board: Board::Rpi4,
                quick: true,
                profile: None,
                firmware: None,
            })
        );
        assert_eq!(
            parse_str("bench --profile ipc").unwrap(),
            Command::Bench(BenchOptions {
                board: Board::Virt,
                quick: false,
                profile: Some("ipc".to_string()),
                firmware: None,
            })
        );
        assert!(parse_str("bench --profile").is_err());
        assert!(parse_str("bench --profile everything").is_err());
        assert!(parse_str("build --profile ipc").is_err());
        assert!(parse_str("bench --quick=yes").is_err());
        assert!(parse_str("bench --test-kernel").is_err());
        assert!(parse_str("build --quick").is_err());
    }

    fn addition(host: &str, guest: &str) -> Addition {
        Addition {
            host: host.into(),
            guest: guest.into(),
        }
    }

    #[test]
    fn add_is_repeatable_kept_in_order_and_split_at_the_last_colon() {
        let Command::Build(options) =
            parse_str("build --add hello:/bin/hello --add=a:b/dir:/opt --add out:/").unwrap()
        else {
            panic!("not a build");
        };
        assert_eq!(
            options.add,
            [
                addition("hello", "/bin/hello"),
                addition("a:b/dir", "/opt"),
                addition("out", "/"),
            ]
        );
        let Command::Run(run) = parse_str("run --add x:/x -- --add y:/y").unwrap() else {
            panic!("not a run");
        };
        assert_eq!(run.build.add, [addition("x", "/x")]);
        assert_eq!(run.qemu_args, ["--add", "y:/y"]);
        let Command::Image(image) = parse_str("image --add x:/x").unwrap() else {
            panic!("not an image");
        };
        assert_eq!(image.add, [addition("x", "/x")]);
    }

    #[test]
    fn add_mistakes_say_what_is_wrong() {
        let message = parse_str("build --add hello").unwrap_err().to_string();
        assert!(
            message.contains("`--add hello`: there is no `:`"),
            "{message}"
        );
        let message = parse_str("build --add hello:bin/hello")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("the guest path `bin/hello` is not absolute"),
            "{message}"
        );
        let message = parse_str("run --add :/x").unwrap_err().to_string();
        assert!(message.contains("the host path is empty"), "{message}");
        assert!(parse_str("run --add").is_err());
        assert!(parse_str("test --add a:/a").is_err());
    }
}
