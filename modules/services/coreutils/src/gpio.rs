//! The argument parsing of `gpio`, the command-line tool for `/dev/gpiochipN`.
//!
//! ```text
//! gpio [-c CHIP] info
//! gpio [-c CHIP] get LINE
//! gpio [-c CHIP] set LINE 0|1
//! gpio [-c CHIP] mode LINE in|out
//! gpio [-c CHIP] pull LINE up|down|none
//! gpio [-c CHIP] wait LINE [rising|falling|both|high|low]
//! ```
//!
//! `CHIP` is a path or a name under `/dev` (default `/dev/gpiochip0`).

use alloc::format;
use alloc::string::String;

use keel_abi::device::{
    GPIO_EDGE_BOTH, GPIO_EDGE_FALLING, GPIO_EDGE_RISING, GPIO_LEVEL_HIGH, GPIO_LEVEL_LOW,
    GPIO_PULL_DOWN, GPIO_PULL_NONE, GPIO_PULL_UP,
};

/// The chip used without `-c`.
pub const DEFAULT_CHIP: &str = "/dev/gpiochip0";

/// The usage text.
pub const USAGE: &str = "usage: gpio [-c CHIP] info | get LINE | set LINE 0|1 | mode LINE in|out | pull LINE up|down|none | wait LINE [rising|falling|both|high|low]";

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Print the number of lines and the driver.
    Info,
    /// Print a line's level.
    Get(u32),
    /// Make a line an output at a level.
    Set(u32, bool),
    /// Make a line an input (`false`) or an output (`true`, driven low).
    Mode(u32, bool),
    /// Set a line's bias (`GPIO_PULL_*`).
    Pull(u32, u32),
    /// Wait for an edge (`GPIO_EDGE_*`) or a level (`GPIO_LEVEL_*`).
    Wait(u32, u32),
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The chip's path.
    pub chip: String,
    /// What to do.
    pub action: Action,
}

fn line(text: Option<&str>) -> Result<u32, String> {
    let text = text.ok_or_else(|| String::from("missing line number"))?;
    text.parse::<u32>()
        .map_err(|_| format!("'{text}' is not a line number"))
}

fn no_more<'a>(mut rest: impl Iterator<Item = &'a str>) -> Result<(), String> {
    match rest.next() {
        Some(extra) => Err(format!("unexpected argument '{extra}'")),
        None => Ok(()),
    }
}

/// Parses the arguments after the program name.
pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut chip = String::from(DEFAULT_CHIP);
    let mut verb = args.next();
    if verb == Some("-c") {
        let name = args.next().ok_or_else(|| String::from("-c needs a chip"))?;
        chip = if name.starts_with('/') {
            String::from(name)
        } else {
            format!("/dev/{name}")
        };
        verb = args.next();
    }
    let verb = verb.ok_or_else(|| String::from("missing command"))?;
    let action = match verb {
        "info" => Action::Info,
        "get" => Action::Get(line(args.next())?),
        "set" => {
            let l = line(args.next())?;
            match args.next() {
                Some("0") => Action::Set(l, false),
                Some("1") => Action::Set(l, true),
                Some(v) => return Err(format!("'{v}' is not 0 or 1")),
                None => return Err(String::from("missing value (0 or 1)")),
            }
        }
        "mode" => {
            let l = line(args.next())?;
            match args.next() {
                Some("in") => Action::Mode(l, false),
                Some("out") => Action::Mode(l, true),
                Some(v) => return Err(format!("'{v}' is not in or out")),
                None => return Err(String::from("missing mode (in or out)")),
            }
        }
        "pull" => {
            let l = line(args.next())?;
            let pull = match args.next() {
                Some("up") => GPIO_PULL_UP,
                Some("down") => GPIO_PULL_DOWN,
                Some("none") => GPIO_PULL_NONE,
                Some(v) => return Err(format!("'{v}' is not up, down or none")),
                None => return Err(String::from("missing pull (up, down or none)")),
            };
            Action::Pull(l, pull)
        }
        "wait" => {
            let l = line(args.next())?;
            let edges = match args.next() {
                None | Some("both") => GPIO_EDGE_BOTH,
                Some("rising") => GPIO_EDGE_RISING,
                Some("falling") => GPIO_EDGE_FALLING,
                Some("high") => GPIO_LEVEL_HIGH,
                Some("low") => GPIO_LEVEL_LOW,
                Some(v) => return Err(format!("'{v}' is not rising, falling, both, high or low")),
            };
            Action::Wait(l, edges)
        }
        other => return Err(format!("unknown command '{other}'")),
    };
    no_more(args)?;
    Ok(Command { chip, action })
}

/// How to print an event the kernel reported: "rising edge", "high level", ...
pub fn event_name(event: u32) -> &'static str {
    match event {
        GPIO_EDGE_RISING => "rising edge",
        GPIO_EDGE_FALLING => "falling edge",
        GPIO_LEVEL_HIGH => "high level",
        GPIO_LEVEL_LOW => "low level",
        _ => "unknown event",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> Command {
        parse(args.iter().copied()).unwrap()
    }

    fn err(args: &[&str]) -> String {
        parse(args.iter().copied()).unwrap_err()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(ok(&["get", "3"]).action, Action::Get(3));
        assert_eq!(ok(&["set", "5", "1"]).action, Action::Set(5, true));
        assert_eq!(ok(&["set", "5", "0"]).action, Action::Set(5, false));
        assert_eq!(ok(&["mode", "2", "in"]).action, Action::Mode(2, false));
        assert_eq!(
            ok(&["pull", "4", "up"]).action,
            Action::Pull(4, GPIO_PULL_UP)
        );
        assert_eq!(ok(&["wait", "3"]).action, Action::Wait(3, GPIO_EDGE_BOTH));
        assert_eq!(
            ok(&["wait", "3", "rising"]).action,
            Action::Wait(3, GPIO_EDGE_RISING)
        );
        assert_eq!(
            ok(&["wait", "3", "falling"]).action,
            Action::Wait(3, GPIO_EDGE_FALLING)
        );
        assert_eq!(
            ok(&["wait", "3", "high"]).action,
            Action::Wait(3, GPIO_LEVEL_HIGH)
        );
        assert_eq!(
            ok(&["wait", "7", "low"]).action,
            Action::Wait(7, GPIO_LEVEL_LOW)
        );
        assert_eq!(ok(&["info"]).chip, DEFAULT_CHIP);
    }

    #[test]
    fn the_chip_is_a_path_or_a_dev_name() {
        assert_eq!(ok(&["-c", "gpiochip1", "info"]).chip, "/dev/gpiochip1");
        assert_eq!(ok(&["-c", "/dev/x", "get", "0"]).chip, "/dev/x");
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert_eq!(err(&[]), "missing command");
        assert_eq!(err(&["get"]), "missing line number");
        assert_eq!(err(&["get", "x"]), "'x' is not a line number");
        assert_eq!(err(&["get", "-1"]), "'-1' is not a line number");
        assert_eq!(err(&["set", "1", "2"]), "'2' is not 0 or 1");
        assert_eq!(err(&["set", "1"]), "missing value (0 or 1)");
        assert_eq!(
            err(&["mode", "1", "sideways"]),
            "'sideways' is not in or out"
        );
        assert_eq!(
            err(&["pull", "1", "left"]),
            "'left' is not up, down or none"
        );
        assert_eq!(
            err(&["wait", "1", "soon"]),
            "'soon' is not rising, falling, both, high or low"
        );
        assert_eq!(
            err(&["wait", "1", "high", "low"]),
            "unexpected argument 'low'"
        );
        assert_eq!(err(&["wait", "high"]), "'high' is not a line number");
        assert_eq!(err(&["get", "1", "2"]), "unexpected argument '2'");
        assert_eq!(err(&["blink", "1"]), "unknown command 'blink'");
        assert_eq!(err(&["-c"]), "-c needs a chip");
    }

    #[test]
    fn events_have_names() {
        assert_eq!(event_name(GPIO_EDGE_RISING), "rising edge");
        assert_eq!(event_name(GPIO_EDGE_FALLING), "falling edge");
        assert_eq!(event_name(GPIO_LEVEL_HIGH), "high level");
        assert_eq!(event_name(GPIO_LEVEL_LOW), "low level");
        assert_eq!(event_name(0), "unknown event");
    }
}
