//! The argument parsing and printing of `stty`, which shows and changes a terminal's line
//! settings (`TCGETS`/`TCSETS`).
//!
//! ```text
//! stty [-F DEVICE]                   print the settings
//! stty [-F DEVICE] SETTING...        change them
//! ```
//!
//! Settings: a number is the baud rate; `cs5`..`cs8` the data bits; `parenb`/`-parenb` parity on
//! (even) or off; `parodd`/`-parodd` odd or even parity (`parodd` turns parity on); `cstopb`/
//! `-cstopb` two or one stop bits; `echo`, `icanon`, `isig` with `-` to clear them; `raw`
//! (`-icanon -echo -isig`) and `-raw` or `cooked` (`icanon echo isig`). Without `-F` the
//! terminal is standard input. A device tty (`/dev/ttyAMA0`) has no line discipline: its local
//! flags stay clear.

use alloc::format;
use alloc::string::String;

use keel_abi::types::{Termios, ECHO, ICANON, ISIG};

/// The usage text.
pub const USAGE: &str = "usage: stty [-F DEVICE] [BAUD | cs5..cs8 | [-]parenb | [-]parodd | [-]cstopb | [-]echo | [-]icanon | [-]isig | raw | -raw | cooked]...";

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The device (`-F`), or `None` for standard input.
    pub device: Option<String>,
    /// The settings to apply, in order (empty: print).
    pub settings: alloc::vec::Vec<&'a str>,
}

/// Parses the arguments after the program name.
pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Command<'a>, String> {
    let mut args = args.into_iter().peekable();
    let mut device = None;
    if args.peek() == Some(&"-F") {
        args.next();
        let name = args
            .next()
            .ok_or_else(|| String::from("-F needs a device"))?;
        device = Some(if name.starts_with('/') {
            String::from(name)
        } else {
            format!("/dev/{name}")
        });
    }
    let settings: alloc::vec::Vec<&str> = args.collect();
    // Check every setting before anything is changed.
    apply(&Termios::default(), &settings)?;
    Ok(Command { device, settings })
}

/// `t` with `settings` applied, in order. A baud rate is checked only for being a number here;
/// the kernel and the driver refuse rates the line cannot make.
pub fn apply(t: &Termios, settings: &[&str]) -> Result<Termios, String> {
    let mut t = *t;
    for &s in settings {
        let (on, name) = match s.strip_prefix('-') {
            Some(rest) => (false, rest),
            None => (true, s),
        };
        let flag = |t: &mut Termios, bit: u32| {
            if on {
                t.lflags |= bit;
            } else {
                t.lflags &= !bit;
            }
        };
        match name {
            "echo" => flag(&mut t, ECHO),
            "icanon" => flag(&mut t, ICANON),
            "isig" => flag(&mut t, ISIG),
            "raw" => {
                t.lflags = if on { 0 } else { ECHO | ICANON | ISIG };
            }
            "cooked" if on => t.lflags = ECHO | ICANON | ISIG,
            "parenb" => t.parity = if on { 2 } else { 0 },
            "parodd" => {
                t.parity = match (on, t.parity) {
                    (true, _) => 1,
                    (false, 0) => 0,
                    (false, _) => 2,
                }
            }
            "cstopb" => t.stop_bits = if on { 2 } else { 1 },
            "cs5" | "cs6" | "cs7" | "cs8" if on => t.data_bits = name.as_bytes()[2] - b'0',
            _ if on && !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
                t.baud = name
                    .parse::<u32>()
                    .ok()
                    .filter(|&b| b > 0)
                    .ok_or_else(|| format!("invalid baud rate '{name}'"))?;
            }
            _ => return Err(format!("invalid argument '{s}'")),
        }
    }
    Ok(t)
}

/// The settings as `stty` prints them: `speed 115200 baud; cs8 -parenb -parodd -cstopb; echo
/// icanon isig`.
pub fn show(t: &Termios) -> String {
    let sign = |on: bool| if on { "" } else { "-" };
    format!(
        "speed {} baud; cs{} {}parenb {}parodd {}cstopb; {}echo {}icanon {}isig",
        t.baud,
        t.data_bits,
        sign(t.parity != 0),
        sign(t.parity == 1),
        sign(t.stop_bits == 2),
        sign(t.lflags & ECHO != 0),
        sign(t.lflags & ICANON != 0),
        sign(t.lflags & ISIG != 0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Termios {
        Termios::CONSOLE
    }

    #[test]
    fn parses_a_device_and_settings() {
        let c = parse(["-F", "ttyAMA0", "9600", "cs7", "parenb"]).unwrap();
        assert_eq!(c.device.as_deref(), Some("/dev/ttyAMA0"));
        assert_eq!(c.settings, ["9600", "cs7", "parenb"]);
        let c = parse([]).unwrap();
        assert_eq!(c.device, None);
        assert!(c.settings.is_empty());
        assert_eq!(parse(["-F"]), Err(String::from("-F needs a device")));
        assert_eq!(
            parse(["fast"]),
            Err(String::from("invalid argument 'fast'"))
        );
        assert_eq!(parse(["cs9"]), Err(String::from("invalid argument 'cs9'")));
        assert_eq!(
            parse(["-cs8"]),
            Err(String::from("invalid argument '-cs8'"))
        );
        assert_eq!(
            parse(["-9600"]),
            Err(String::from("invalid argument '-9600'"))
        );
        assert_eq!(parse(["0"]), Err(String::from("invalid baud rate '0'")));
        assert_eq!(
            parse(["99999999999"]),
            Err(String::from("invalid baud rate '99999999999'"))
        );
    }

    #[test]
    fn applies_settings_in_order() {
        let t = apply(&line(), &["9600", "cs7", "parodd", "cstopb", "raw"]).unwrap();
        assert_eq!(
            t,
            Termios {
                lflags: 0,
                baud: 9600,
                data_bits: 7,
                stop_bits: 2,
                parity: 1,
                reserved: 0
            }
        );
        let t = apply(&t, &["-parodd", "-cstopb", "-raw", "-echo"]).unwrap();
        assert_eq!((t.parity, t.stop_bits, t.lflags), (2, 1, ICANON | ISIG));
        let t = apply(&t, &["-parenb", "-parodd", "cooked"]).unwrap();
        assert_eq!((t.parity, t.lflags), (0, ECHO | ICANON | ISIG));
    }

    #[test]
    fn shows_every_setting() {
        assert_eq!(
            show(&line()),
            "speed 115200 baud; cs8 -parenb -parodd -cstopb; echo icanon isig"
        );
        let t = apply(&line(), &["raw", "parodd", "cstopb", "cs5", "1200"]).unwrap();
        assert_eq!(
            show(&t),
            "speed 1200 baud; cs5 parenb parodd cstopb; -echo -icanon -isig"
        );
    }
}
