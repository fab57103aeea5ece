//! The errors `cargo xtask` reports; each one reads as a sentence that says what failed, where and why.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result type used throughout `xtask`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop an `xtask` command.
#[derive(Debug)]
pub enum Error {
    /// The command line could not be understood.
    Usage(String),
    /// A program could not be started at all (usually: it is not installed).
    Spawn {
        /// The program that was started.
        program: String,
        /// Why the operating system refused.
        source: io::Error,
        /// What the user can do about it.
        hint: Option<String>,
    },
    /// A program ran and reported failure.
    CommandFailed {
        /// What the program was supposed to achieve.
        what: String,
        /// The command line, shell-quoted.
        command: String,
        /// How it ended (exit status or signal).
        status: String,
        /// The program's error output, if it was captured.
        stderr: String,
        /// What the user can do about it.
        hint: Option<String>,
    },
    /// Reading or writing a file or directory failed.
    Io {
        /// What was being done, e.g. "read" or "create directory".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The kernel ELF file is not what the build expects.
    Elf {
        /// The ELF file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A module object (`.ko`) or module crate is not what the module contract requires.
    Module {
        /// The `.ko` file or the crate's manifest.
        path: PathBuf,
        /// What is wrong with it, as the rest of a sentence starting with the path.
        reason: String,
    },
    /// The encoded symbol table does not fit into the kernel's `.ksyms` section.
    SymbolsTooLarge {
        /// The ELF file.
        path: PathBuf,
        /// Number of symbols encoded.
        symbols: usize,
        /// Size of the encoded table in bytes.
        needed: usize,
        /// Size of the `.ksyms` section in bytes.
        available: u64,
    },
    /// The raw kernel image lacks the arm64 Image magic at offset 0x38.
    NotAnArm64Image {
        /// The raw image.
        path: PathBuf,
        /// The four bytes found at offset 0x38 (fewer if the file is shorter).
        found: Vec<u8>,
    },
    /// A file that has to exist is missing.
    Missing {
        /// The missing file.
        path: PathBuf,
        /// Why it is needed.
        needed_for: String,
        /// What the user can do about it.
        hint: String,
    },
    /// Something could not be put into the initramfs.
    Initramfs {
        /// What was being added, e.g. "`--add x:/bin/x`" or "modules/rootfs/etc/motd".
        input: String,
        /// Why it was refused.
        reason: String,
        /// What the user can do about it.
        hint: String,
    },
    /// Host tools are missing or too old.
    Prerequisites(Vec<crate::prereq::Problem>),
    /// Something about this host's configuration prevents the command from working.
    Host {
        /// What could not be done.
        what: String,
        /// Why.
        reason: String,
        /// What the user can do about it.
        hint: String,
    },
    /// A benchmark boot did not produce its figures.
    Bench {
        /// What went wrong.
        reason: String,
        /// The QEMU command and its serial log, or empty.
        report: String,
    },
    /// `cargo xtask setup` needs root; the commands to run instead are attached.
    NotRoot {
        /// The commands that do what setup would have done.
        commands: Vec<String>,
    },
}

impl Error {
    /// Attaches `hint` to errors about programs, telling the user what to do about the failure.
    pub fn with_hint(mut self, new_hint: impl Into<String>) -> Self {
        match &mut self {
            Error::Spawn { hint, .. } | Error::CommandFailed { hint, .. } => {
                *hint = Some(new_hint.into())
            }
            _ => {}
        }
        self
    }

    /// Builds an [`Error::Io`] for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Adds [`Error::with_hint`] to results.
pub trait Hint<T> {
    /// Attaches `hint` to an error about a program.
    fn hint(self, hint: impl Into<String>) -> Result<T>;
}

impl<T> Hint<T> for Result<T> {
    fn hint(self, hint: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.with_hint(hint))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => {
                write!(f, "{message}\n  help: run `cargo xtask help` for usage")
            }
            Error::Spawn {
                program,
                source,
                hint,
            } => {
                write!(f, "could not start `{program}`: {source}")?;
                write_hint(f, hint.as_deref())
            }
            Error::CommandFailed {
                what,
                command,
                status,
                stderr,
                hint,
            } => {
                write!(f, "{what} failed: `{command}` {status}")?;
                let stderr = stderr.trim();
                if !stderr.is_empty() {
                    write!(f, "\n  its error output was:")?;
                    for line in stderr.lines() {
                        write!(f, "\n    {line}")?;
                    }
                }
                write_hint(f, hint.as_deref())
            }
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "could not {action} {}: {source}", path.display()),
            Error::Bench { reason, report } => {
                write!(f, "the benchmark failed: {reason}")?;
                if !report.is_empty() {
                    write!(f, "\n{report}")?;
                }
                Ok(())
            }
            Error::Elf { path, reason } => {
                write!(f, "the kernel ELF {} {reason}", path.display())
            }
            Error::Module { path, reason } => write!(f, "{} {reason}", path.display()),
            Error::SymbolsTooLarge {
                path,
                symbols,
                needed,
                available,
            } => write!(
                f,
                "the symbol table of {} ({symbols} functions) encodes to {needed} bytes, but its \
                 `.ksyms` section holds only {available} bytes\n  help: make the `.ksyms` section \
                 in the linker script at least {needed} bytes large",
                path.display()
            ),
            Error::NotAnArm64Image { path, found } => write!(
                f,
                "{} is not an arm64 Image: bytes 0x38..0x3c are {found:02x?}, expected the magic \
                 \"ARM\\x64\" ([41, 52, 4d, 64])\n  help: the kernel must start with the Linux \
                 arm64 Image header (boot/ entry code)",
                path.display()
            ),
            Error::Missing {
                path,
                needed_for,
                hint,
            } => write!(
                f,
                "{} is missing; it is needed for {needed_for}\n  help: {hint}",
                path.display()
            ),
            Error::Prerequisites(problems) => {
                write!(f, "this host is missing what Keel needs to build and run:")?;
                for problem in problems {
                    write!(f, "\n  - {problem}")?;
                }
                write!(
                    f,
                    "\n  help: `sudo cargo xtask setup` installs all of it on Debian bookworm"
                )
            }
            Error::Initramfs {
                input,
                reason,
                hint,
            } => write!(
                f,
                "could not put {input} into the initramfs: {reason}\n  help: {hint}"
            ),
            Error::Host { what, reason, hint } => {
                write!(f, "could not {what}: {reason}\n  help: {hint}")
            }
            Error::NotRoot { commands } => {
                write!(
                    f,
                    "`cargo xtask setup` changes the system's packages and must run as root \
                     (`sudo cargo xtask setup`); or run these commands yourself:"
                )?;
                writeln!(f)?;
                for command in commands {
                    write!(f, "\n{command}")?;
                }
                Ok(())
            }
        }
    }
}

fn write_hint(f: &mut fmt::Formatter<'_>, hint: Option<&str>) -> fmt::Result {
    match hint {
        Some(hint) => write!(f, "\n  help: {hint}"),
        None => Ok(()),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
