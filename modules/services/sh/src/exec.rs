//! Running parsed command lines: built-ins in the shell, programs in new processes, connected
//! by pipes and redirections.

use crate::builtins::{self, Io};
use crate::Shell;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use keel_user::fs::{self, File, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use keel_user::process::{self, Command as Spawn, ExitStatus, Pid};
use keel_user::{eprintln, println, Env, Error};
use sh::parse::{self, Command, Pipeline, RedirKind};

/// Status of a command that was not found.
const STATUS_NOT_FOUND: i32 = 127;
/// Status of a command that could not start.
const STATUS_CANNOT_RUN: i32 = 126;

/// Parses and runs one line; the status is also stored in `sh.last_status`.
pub fn run_line(sh: &mut Shell, line: &str) -> i32 {
    let status = match parse::parse(line) {
        Err(e) => {
            eprintln!("sh: {e}");
            2
        }
        Ok(None) => return sh.last_status,
        Ok(Some(p)) => run_pipeline(sh, &p),
    };
    sh.last_status = status;
    status
}

/// Opens a command's redirections on top of `io`; the files stay open while returned.
fn redirect(cmd: &Command, io: &mut [i32; 3]) -> Result<Vec<File>, ()> {
    let mut files = Vec::new();
    for r in &cmd.redirects {
        let flags = match r.kind {
            RedirKind::In => O_RDONLY,
            RedirKind::Out => O_WRONLY | O_CREAT | O_TRUNC,
            RedirKind::Append => O_WRONLY | O_CREAT | O_APPEND,
        };
        match File::open_with(&r.path, flags) {
            Ok(f) => {
                io[r.fd as usize] = f.fd();
                files.push(f);
            }
            Err(e) => {
                eprintln!("sh: {}: {}", r.path, e);
                return Err(());
            }
        }
    }
    Ok(files)
}

/// The path of a program: as written when it holds a `/`, else `/bin/NAME`.
fn program_path(name: &str) -> String {
    if name.contains('/') {
        String::from(name)
    } else {
        format!("/bin/{name}")
    }
}

/// Starts a program; prints why when it cannot.
fn spawn(cmd: &Command, io: [i32; 3]) -> Result<Pid, i32> {
    let name = &cmd.argv[0];
    let path = program_path(name);
    // A directory or a missing file is "not found"; the kernel decides the rest.
    match fs::stat(&path) {
        Ok(st) if fs::kind(st.kind) == Some(keel_abi::types::FileKind::Dir) => {
            eprintln!("sh: {name}: is a directory");
            return Err(STATUS_CANNOT_RUN);
        }
        Err(Error::ENOENT) | Err(Error::ENOTDIR) => {
            eprintln!("sh: {name}: not found");
            return Err(STATUS_NOT_FOUND);
        }
        _ => {}
    }
    let result = Spawn::new(&path)
        .arg0(name)
        .args(&cmd.argv[1..])
        .envs(Env::current())
        .stdin(io[0])
        .stdout(io[1])
        .stderr(io[2])
        .spawn();
    match result {
        Ok(pid) => Ok(pid),
        Err(Error::ENOENT) => {
            eprintln!("sh: {name}: not found");
            Err(STATUS_NOT_FOUND)
        }
        Err(e) => {
            eprintln!("sh: {name}: {}", e.description());
            Err(STATUS_CANNOT_RUN)
        }
    }
}

/// Runs a pipeline: programs first (so that every reader is running), then the built-ins in
/// the shell, then waits for the programs unless it runs in the background.
fn run_pipeline(sh: &mut Shell, p: &Pipeline) -> i32 {
    let n = p.commands.len();
    // A lone built-in in the foreground runs directly.
    if n == 1 && !p.background && builtins::find(&p.commands[0].argv[0]).is_some() {
        let cmd = &p.commands[0];
        let mut io = [0, 1, 2];
        let Ok(_files) = redirect(cmd, &mut io) else {
            return 1;
        };
        return builtins::run(
            sh,
            &cmd.argv,
            Io {
                out: io[1],
                err: io[2],
            },
        );
    }

    let mut pipes: Vec<(File, File)> = Vec::new();
    for _ in 1..n {
        match fs::pipe() {
            Ok(pair) => pipes.push(pair),
            Err(e) => {
                eprintln!("sh: pipe: {e}");
                return 1;
            }
        }
    }
    // A foreground pipeline gets the cooked terminal before its programs start, so that a
    // program changing the terminal's line (`stty`) does not race the shell's own change; Ctrl-C
    // kills nobody until the last program is the foreground one.
    if !p.background {
        if let Some(t) = &sh.term {
            t.foreground(0);
            t.cooked();
        }
    }
    let devnull = File::open_with("/dev/null", O_WRONLY).ok();
    let mut open_files: Vec<File> = Vec::new();
    let mut pids: Vec<(Pid, &str)> = Vec::new();
    let mut deferred: Vec<(usize, [i32; 3])> = Vec::new();
    let mut last_stage_pid: Option<Pid> = None;
    let mut status = 0;
    for (i, cmd) in p.commands.iter().enumerate() {
        let mut io = [
            if i == 0 { 0 } else { pipes[i - 1].0.fd() },
            if i == n - 1 { 1 } else { pipes[i].1.fd() },
            2,
        ];
        let is_builtin = builtins::find(&cmd.argv[0]).is_some();
        // A built-in feeding a built-in: the reader never reads, so the output goes nowhere
        // (rather than filling the pipe and blocking the shell).
        if is_builtin && i + 1 < n && builtins::find(&p.commands[i + 1].argv[0]).is_some() {
            if let Some(null) = &devnull {
                io[1] = null.fd();
            }
        }
        match redirect(cmd, &mut io) {
            Ok(files) => open_files.extend(files),
            Err(()) => {
                status = 1;
                continue;
            }
        }
        if is_builtin {
            deferred.push((i, io));
        } else {
            match spawn(cmd, io) {
                Ok(pid) => {
                    pids.push((pid, &cmd.argv[0]));
                    if i == n - 1 {
                        last_stage_pid = Some(pid);
                    }
                }
                Err(s) => status = s,
            }
        }
    }
    for (i, io) in deferred {
        let s = builtins::run(
            sh,
            &p.commands[i].argv,
            Io {
                out: io[1],
                err: io[2],
            },
        );
        if i == n - 1 {
            status = s;
        }
    }
    // Close the shell's copies: readers see the end of their input when the writers finish.
    drop(pipes);
    drop(open_files);
    drop(devnull);

    if pids.is_empty() {
        return status;
    }
    if p.background {
        let last = pids[pids.len() - 1].0;
        println!("[{last}]");
        sh.jobs.extend(pids.iter().map(|&(pid, _)| pid));
        return 0;
    }
    let (last_pid, last_name) = pids[pids.len() - 1];
    // The program gets the terminal: Ctrl-C kills it, and it reads edited, echoed lines (the
    // terminal is cooked already).
    if let Some(t) = &sh.term {
        t.foreground(last_pid);
    }
    // Wait for the last command first; if Ctrl-C killed it, end the rest of the pipeline too.
    let last_status = wait_reporting(last_pid, last_name);
    if last_status.killed() {
        for &(pid, _) in &pids[..pids.len() - 1] {
            let _ = process::kill(pid);
        }
    }
    for &(pid, name) in &pids[..pids.len() - 1] {
        wait_reporting(pid, name);
    }
    if let Some(t) = &sh.term {
        t.raw();
        t.foreground(process::getpid());
    }
    match last_stage_pid {
        Some(_) => last_status.code(),
        None => status,
    }
}

/// Waits for `pid` and says so when it was killed.
fn wait_reporting(pid: Pid, name: &str) -> ExitStatus {
    match process::wait(pid) {
        Ok(s) => {
            report(name, s);
            s
        }
        Err(e) => {
            eprintln!("sh: wait {pid}: {e}");
            ExitStatus(1)
        }
    }
}

fn report(name: &str, s: ExitStatus) {
    if s.faulted() {
        eprintln!("sh: {name}: killed (fault)");
    } else if s.killed() {
        eprintln!("sh: {name}: killed");
    }
}

/// Reaps finished background processes and reports them.
pub fn reap_jobs(sh: &mut Shell) {
    while !sh.jobs.is_empty() {
        match process::try_wait(None) {
            Ok(Some((pid, s))) => {
                sh.jobs.retain(|&j| j != pid);
                if s.faulted() {
                    println!("[{pid}] killed (fault)");
                } else if s.killed() {
                    println!("[{pid}] killed");
                } else {
                    println!("[{pid}] done, status {}", s.code());
                }
            }
            Ok(None) => break,
            Err(_) => {
                sh.jobs.clear();
                break;
            }
        }
    }
}
