//! Built-in commands: they run in the shell process, with the shell's capabilities. Their output
//! goes to the descriptors in [`Io`], so it honours `>` and pipes.

use crate::Shell;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use keel_abi::types::module_state;
use keel_user::io::{self, Fd};
use keel_user::{fdprintln, fs, klog, module, power, process, Error};
use sh::modinfo;
use sh::modules::{self as deps, LsmodRow};

/// Where a built-in writes.
#[derive(Clone, Copy, Debug)]
pub struct Io {
    /// Standard output.
    pub out: Fd,
    /// Standard error.
    pub err: Fd,
}

type Builtin = fn(&mut Shell, &[String], Io) -> i32;

/// Every built-in: name, one-line help, function.
const BUILTINS: &[(&str, &str, Builtin)] = &[
    ("help", "list the commands", help),
    (
        "cd",
        "cd [DIR]: change the working directory (default /)",
        cd,
    ),
    ("pwd", "print the working directory", pwd),
    ("exit", "exit [STATUS]: leave the shell", exit),
    ("history", "list the lines typed before", history),
    ("kill", "kill PID...: end processes", kill),
    ("sync", "write cached data to the devices", sync),
    ("poweroff", "sync and power the machine off", poweroff),
    ("reboot", "sync and reboot the machine", reboot),
    ("dmesg", "print the kernel log", dmesg),
    (
        "insmod",
        "insmod FILE [PARAM=VALUE...]: load a kernel module",
        insmod,
    ),
    ("rmmod", "rmmod NAME: unload a kernel module", rmmod),
    ("lsmod", "list the loaded kernel modules", lsmod),
    (
        "modinfo",
        "modinfo FILE|NAME: show a module's metadata",
        modinfo,
    ),
    (
        "modprobe",
        "modprobe [-r] NAME [PARAM=VALUE...]: load (or remove) a module and its dependencies",
        modprobe,
    ),
];

/// The programs Keel ships in `/bin`, with one-line help.
const PROGRAMS: &[(&str, &str)] = &[
    ("echo", "echo [-n] ARGS...: print the arguments"),
    ("ls", "ls [-l] [PATH...]: list directories"),
    ("cat", "cat [FILE...]: print files (stdin when none or -)"),
    ("ps", "list processes"),
    ("uptime", "time since boot"),
    ("free", "memory use in KiB"),
    (
        "hexdump",
        "hexdump -C [-n LEN] [-s OFF] [FILE]: canonical hex dump",
    ),
    ("dd", "dd if= of= bs= count= skip= seek=: copy blocks"),
    (
        "gpio",
        "gpio [-c CHIP] info|get|set|mode|pull|wait LINE ...: GPIO lines",
    ),
    ("true", "exit with status 0"),
    ("false", "exit with status 1"),
    ("sleep", "sleep SECONDS: wait"),
    ("sh", "sh [-c CMD | SCRIPT]: the shell"),
    ("crash", "crash KIND: fault on purpose (test)"),
    ("spin", "loop forever (test)"),
    (
        "sysfuzz",
        "sysfuzz [COUNT] [SEED]: random system calls (test)",
    ),
    (
        "ipcping",
        "ipcping [client N | server]: IPC round trips (test)",
    ),
    ("sleeper", "sleeper MS: sleep then exit (test)"),
    (
        "bench",
        "bench [--quick]: benchmarks, one BENCH line per figure",
    ),
];

/// The built-in called `name`.
pub fn find(name: &str) -> Option<Builtin> {
    BUILTINS.iter().find(|b| b.0 == name).map(|b| b.2)
}

/// Runs the built-in `argv[0]`.
pub fn run(sh: &mut Shell, argv: &[String], io: Io) -> i32 {
    match find(&argv[0]) {
        Some(f) => f(sh, argv, io),
        None => 127,
    }
}

fn help(_: &mut Shell, _: &[String], io: Io) -> i32 {
    let mut text = String::from("Built-in commands:\n");
    for (name, what, _) in BUILTINS {
        text.push_str(&format!("  {name:<10} {what}\n"));
    }
    text.push_str("Programs:\n");
    for (name, what) in PROGRAMS {
        text.push_str(&format!("  {name:<10} {what}\n"));
    }
    if let Ok(dir) = fs::read_dir("/bin") {
        let mut extra: Vec<String> = dir
            .filter_map(Result::ok)
            .map(|e| e.name)
            .filter(|n| n != "." && n != ".." && !PROGRAMS.iter().any(|p| p.0 == n))
            .collect();
        extra.sort();
        for name in extra {
            text.push_str(&format!("  {name:<10} (a program in /bin)\n"));
        }
    }
    text.push_str(
        "Syntax: CMD ARGS | CMD ..., < FILE, > FILE, >> FILE, 2> FILE, '...', \"...\", CMD &\n",
    );
    let _ = io::write_all(io.out, text.as_bytes());
    0
}

fn cd(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    let dir = argv.get(1).map_or("/", String::as_str);
    match fs::chdir(dir) {
        Ok(()) => 0,
        Err(e) => {
            let _ = fdprintln!(io.err, "cd: {dir}: {}", e.description());
            1
        }
    }
}

fn pwd(_: &mut Shell, _: &[String], io: Io) -> i32 {
    match fs::getcwd() {
        Ok(p) => {
            let _ = fdprintln!(io.out, "{p}");
            0
        }
        Err(e) => {
            let _ = fdprintln!(io.err, "pwd: {}", e.description());
            1
        }
    }
}

fn exit(sh: &mut Shell, argv: &[String], io: Io) -> i32 {
    let code = match argv.get(1) {
        None => sh.last_status,
        Some(a) => match a.parse::<i32>() {
            Ok(c) => c,
            Err(_) => {
                let _ = fdprintln!(io.err, "exit: {a}: not a number");
                return 2;
            }
        },
    };
    sh.exit = Some(code);
    code
}

fn history(sh: &mut Shell, _: &[String], io: Io) -> i32 {
    let mut text = String::new();
    for (i, l) in sh.editor.history().enumerate() {
        text.push_str(&format!("{:>4}  {l}\n", i + 1));
    }
    let _ = io::write_all(io.out, text.as_bytes());
    0
}

fn kill(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    if argv.len() < 2 {
        let _ = fdprintln!(io.err, "usage: kill PID...");
        return 2;
    }
    let mut status = 0;
    for a in &argv[1..] {
        match a.parse::<u32>() {
            Ok(pid) => {
                if let Err(e) = process::kill(pid) {
                    let _ = fdprintln!(io.err, "kill: {pid}: {}", e.description());
                    status = 1;
                }
            }
            Err(_) => {
                let _ = fdprintln!(io.err, "kill: {a}: not a process id");
                status = 1;
            }
        }
    }
    status
}

fn sync(_: &mut Shell, _: &[String], io: Io) -> i32 {
    match fs::sync() {
        Ok(()) => 0,
        Err(e) => {
            let _ = fdprintln!(io.err, "sync: {}", e.description());
            1
        }
    }
}

fn poweroff(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    let _ = fs::sync();
    let e = if argv[0] == "reboot" {
        power::reboot()
    } else {
        power::poweroff()
    };
    let _ = fdprintln!(io.err, "{}: {}", argv[0], e.description());
    1
}

fn reboot(sh: &mut Shell, argv: &[String], io: Io) -> i32 {
    poweroff(sh, argv, io)
}

fn dmesg(_: &mut Shell, _: &[String], io: Io) -> i32 {
    let mut buf = alloc::vec![0u8; 4096];
    let mut offset = 0u64;
    loop {
        match klog::read(offset, &mut buf) {
            Ok(0) => return 0,
            Ok(n) => {
                if io::write_all(io.out, &buf[..n.min(buf.len())]).is_err() {
                    return 1;
                }
                offset += n as u64;
            }
            Err(e) => {
                let _ = fdprintln!(io.err, "dmesg: {}", e.description());
                return 1;
            }
        }
    }
}

fn insmod(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    let Some(file) = argv.get(1) else {
        let _ = fdprintln!(io.err, "usage: insmod FILE [PARAM=VALUE...]");
        return 2;
    };
    let image = match fs::read(file) {
        Ok(i) => i,
        Err(e) => {
            let _ = fdprintln!(io.err, "insmod: {file}: {}", e.description());
            return 1;
        }
    };
    let params = argv[2..].join(" ");
    match module::init_module(&image, &params) {
        Ok(()) => 0,
        Err(e) => {
            let _ = fdprintln!(io.err, "insmod: {file}: {}", e.description());
            1
        }
    }
}

fn rmmod(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    if argv.len() < 2 {
        let _ = fdprintln!(io.err, "usage: rmmod NAME...");
        return 2;
    }
    let mut status = 0;
    for a in &argv[1..] {
        let name = loaded_name(deps::module_name(a));
        if let Err(e) = module::delete_module(&name, 0) {
            let _ = fdprintln!(io.err, "rmmod: {}", rmmod_error(&name, e));
            status = 1;
        }
    }
    status
}

/// Why `rmmod NAME` failed, as a sentence: who uses it, or that it is not loaded.
fn rmmod_error(name: &str, e: Error) -> String {
    match e {
        Error::ENOENT => format!("{name}: module not loaded"),
        Error::EBUSY => {
            let users = module::module_list()
                .ok()
                .and_then(|l| l.into_iter().find(|m| m.name == name))
                .map(|m| m.used_by.join(","))
                .unwrap_or_default();
            if users.is_empty() {
                format!("{name}: {}", e.description())
            } else {
                format!("{name} is in use by {users}")
            }
        }
        _ => format!("{name}: {}", e.description()),
    }
}

/// The kernel's spelling of a module name (`-` and `_` alike), or `name` itself.
fn loaded_name(name: &str) -> String {
    module::module_list()
        .ok()
        .and_then(|l| l.into_iter().find(|m| deps::same_name(&m.name, name)))
        .map_or_else(|| String::from(name), |m| m.name)
}

fn lsmod(_: &mut Shell, _: &[String], io: Io) -> i32 {
    let list = match module::module_list() {
        Ok(l) => l,
        Err(e) => {
            let _ = fdprintln!(io.err, "lsmod: {}", e.description());
            return 1;
        }
    };
    let rows: Vec<LsmodRow<'_>> = list
        .iter()
        .map(|m| LsmodRow {
            name: &m.name,
            size: m.size,
            refcount: m.refcount,
            used_by: &m.used_by,
            state: match m.state {
                module_state::FAILED => Some("failed"),
                module_state::LOADING => Some("loading"),
                module_state::UNLOADING => Some("unloading"),
                _ => None,
            },
        })
        .collect();
    let _ = io::write_all(io.out, deps::format_lsmod(&rows).as_bytes());
    0
}

/// The file of a module named on the command line: a path as given (made absolute), else
/// `/lib/modules/NAME.ko`.
fn module_file(arg: &str) -> String {
    if arg.contains('/') || (arg.ends_with(".ko") && fs::stat(arg).is_ok()) {
        if arg.starts_with('/') {
            String::from(arg)
        } else {
            let cwd = fs::getcwd().unwrap_or_default();
            let cwd = cwd.trim_end_matches('/');
            format!("{cwd}/{}", arg.trim_start_matches("./"))
        }
    } else {
        format!("/lib/modules/{}.ko", deps::module_name(arg))
    }
}

fn modinfo(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    let Some(arg) = argv.get(1) else {
        let _ = fdprintln!(io.err, "usage: modinfo FILE|NAME");
        return 2;
    };
    let path = module_file(arg);
    let image = match fs::read(&path) {
        Ok(i) => i,
        Err(e) => {
            let _ = fdprintln!(io.err, "modinfo: {arg}: {}", e.description());
            return 1;
        }
    };
    match modinfo::modinfo(&image) {
        Ok(pairs) => {
            let mut text = format!("filename: {path}\n");
            for (k, v) in pairs {
                text.push_str(&format!("{k}: {v}\n"));
            }
            let _ = io::write_all(io.out, text.as_bytes());
            0
        }
        Err(e) => {
            let _ = fdprintln!(io.err, "modinfo: {path}: {e}");
            1
        }
    }
}

fn modprobe(_: &mut Shell, argv: &[String], io: Io) -> i32 {
    let remove = argv.get(1).is_some_and(|a| a == "-r");
    let rest = &argv[if remove { 2 } else { 1 }..];
    let Some(name) = rest.first() else {
        let _ = fdprintln!(io.err, "usage: modprobe [-r] NAME [PARAM=VALUE...]");
        return 2;
    };
    let name = deps::module_name(name);
    let dep_text = fs::read_to_string("/lib/modules/modules.dep").unwrap_or_default();
    let table = deps::parse_dep(&dep_text);
    let order = match deps::load_order(&table, name) {
        Ok(o) => o,
        Err(e) => {
            let _ = fdprintln!(io.err, "modprobe: {name}: {e}");
            return 1;
        }
    };
    let loaded = |n: &str| -> Option<module::Module> {
        module::module_list()
            .ok()?
            .into_iter()
            .find(|m| deps::same_name(&m.name, n))
    };
    if remove {
        let Some(m) = loaded(name) else {
            let _ = fdprintln!(io.err, "modprobe: {name}: module not loaded");
            return 1;
        };
        if let Err(e) = module::delete_module(&m.name, 0) {
            let _ = fdprintln!(io.err, "modprobe: {}: {}", m.name, e.description());
            return 1;
        }
        // Then the dependencies nobody uses any more, nearest first.
        for file in order.iter().rev().skip(1) {
            if let Some(d) = loaded(deps::module_name(file)) {
                if d.refcount == 0 && d.used_by.is_empty() {
                    let _ = module::delete_module(&d.name, 0);
                }
            }
        }
        return 0;
    }
    let params = rest[1..].join(" ");
    let last = order.len() - 1;
    for (i, file) in order.iter().enumerate() {
        let mname = deps::module_name(file);
        if loaded(mname).is_some() {
            continue;
        }
        let path = if file.starts_with('/') {
            file.clone()
        } else {
            format!("/lib/modules/{file}")
        };
        let image = match fs::read(&path) {
            Ok(i) => i,
            Err(e) => {
                let _ = fdprintln!(io.err, "modprobe: {path}: {}", e.description());
                return 1;
            }
        };
        let p = if i == last { params.as_str() } else { "" };
        match module::init_module(&image, p) {
            Ok(()) | Err(Error::EALREADY) | Err(Error::EEXIST) => {}
            Err(e) => {
                let _ = fdprintln!(io.err, "modprobe: {path}: {}", e.description());
                return 1;
            }
        }
    }
    0
}
