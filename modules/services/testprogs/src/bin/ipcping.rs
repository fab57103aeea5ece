//! `ipcping [client N | server | edges]`: IPC round trips. The client (the default, N = 1000)
//! creates an endpoint, starts `ipcping server` with it as handle 0, makes N register-only calls
//! and N calls carrying 256 bytes each way, checks every reply, and prints the counts and the time
//! per round trip. `edges` checks what happens when a peer goes away in the middle of a call
//! (`ipcping caller` is its calling partner).
#![no_std]
#![no_main]

use keel_user::abi::ipc::{MSG_MAX, RIGHT_DUP, RIGHT_SEND};
use keel_user::ipc::{Endpoint, Message};
use keel_user::process::{self, Command};
use keel_user::time::Instant;
use keel_user::{eprintln, println, Error};

keel_user::main!(main);

const QUIT: u64 = 0;
const WORDS: u64 = 1;
const BYTES: u64 = 2;
const BYTES_LEN: usize = 256;
/// The server keeps the reply for [`HOLD_MS`], then answers.
const HOLD: u64 = 3;
/// The server exits without answering.
const LEAVE: u64 = 4;
const HOLD_MS: u64 = 300;
/// How long `edges` lets a partner reach its call before it acts.
const SETTLE_MS: u64 = 50;

fn main(args: keel_user::Args) -> i32 {
    match (args.arg(1), args.arg(2)) {
        (Some("server"), _) => server(),
        (Some("caller"), _) => caller(),
        (Some("edges"), _) => edges(args.arg(0).unwrap_or("ipcping")),
        (None, _) => client(args.arg(0).unwrap_or("ipcping"), 1000),
        (Some("client"), n) => match n.map_or(Ok(1000), str::parse::<u64>) {
            Ok(n) => client(args.arg(0).unwrap_or("ipcping"), n),
            Err(_) => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> i32 {
    eprintln!("usage: ipcping [client N | server | edges]");
    2
}

fn server() -> i32 {
    let ep = Endpoint::from_raw(0);
    let mut inbuf = [0u8; 4096];
    let mut outbuf = [0u8; 4096];
    let mut r = match ep.recv_with(&mut inbuf) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ipcping server: recv: {e}");
            return 1;
        }
    };
    loop {
        let m = r.msg;
        let next = match m.label {
            QUIT => {
                let _ = Endpoint::reply(Message::new(QUIT, [0; 4]));
                return 0;
            }
            LEAVE => return 0,
            HOLD => {
                process::sleep_ms(HOLD_MS);
                ep.reply_recv_with(Message::new(HOLD, [0; 4]), &[], &mut inbuf)
            }
            WORDS => ep.reply_recv_with(
                Message::new(WORDS, m.words.map(|w| w.wrapping_add(1))),
                &[],
                &mut inbuf,
            ),
            BYTES => {
                let n = r.len.min(inbuf.len());
                for (o, i) in outbuf[..n].iter_mut().zip(&inbuf[..n]) {
                    *o = !*i;
                }
                ep.reply_recv_with(
                    Message::new(BYTES, [n as u64, 0, 0, 0]),
                    &outbuf[..n],
                    &mut inbuf,
                )
            }
            _ => ep.reply_recv_with(Message::new(u64::MAX, [0; 4]), &[], &mut inbuf),
        };
        r = match next {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ipcping server: reply_recv: {e}");
                return 1;
            }
        };
    }
}

fn program(argv0: &str) -> &str {
    if argv0.contains('/') {
        argv0
    } else {
        "/bin/ipcping"
    }
}

/// Calls `HOLD` on handle 0: exits with 0 after the reply, 3 after `EPEERDIED`, 1 otherwise.
fn caller() -> i32 {
    let ep = Endpoint::from_raw(0);
    match ep.call(Message::new(HOLD, [0; 4])) {
        Ok(r) if r.label == HOLD => 0,
        Err(Error::EPEERDIED) => 3,
        _ => 1,
    }
}

fn start(path: &str, role: &str, handle: u32) -> Result<u32, alloc::string::String> {
    Command::new(path)
        .arg(role)
        .handle(handle)
        .spawn()
        .map_err(|e| alloc::format!("cannot start {path} {role}: {e}"))
}

/// Waits for `pid`; fails unless `want` accepts its status.
fn reap(
    pid: u32,
    what: &str,
    want: impl Fn(process::ExitStatus) -> bool,
) -> Result<(), alloc::string::String> {
    match process::wait(pid) {
        Ok(s) if want(s) => Ok(()),
        Ok(s) => Err(alloc::format!("{what}: ended with status {}", s.code())),
        Err(e) => Err(alloc::format!("{what}: wait: {e}")),
    }
}

/// A server and a send-only handle to its endpoint (this process keeps no receive right, so the
/// endpoint dies with the server).
fn serve(path: &str) -> Result<(Endpoint, u32), alloc::string::String> {
    let ep = Endpoint::create().map_err(|e| alloc::format!("endpoint_create: {e}"))?;
    let send = ep
        .dup(RIGHT_SEND | RIGHT_DUP)
        .map_err(|e| alloc::format!("dup: {e}"))?;
    let pid = start(path, "server", ep.handle())?;
    drop(ep);
    Ok((send, pid))
}

fn edges(argv0: &str) -> i32 {
    match edge_cases(program(argv0)) {
        Ok(()) => {
            println!("ipcping: edges ok");
            0
        }
        Err(what) => {
            eprintln!("ipcping: {what}");
            1
        }
    }
}

fn edge_cases(path: &str) -> Result<(), alloc::string::String> {
    let peer_died = |r: Result<Message, Error>, what: &str| match r {
        Err(Error::EPEERDIED) => Ok(()),
        Ok(_) => Err(alloc::format!("{what}: a reply instead of EPEERDIED")),
        Err(e) => Err(alloc::format!("{what}: {e} instead of EPEERDIED")),
    };
    let words = |ep: &Endpoint, what: &str| match ep.call(Message::new(WORDS, [1, 2, 3, 4])) {
        Ok(r) if r.label == WORDS && r.words == [2, 3, 4, 5] => Ok(()),
        Ok(_) => Err(alloc::format!("{what}: wrong reply")),
        Err(e) => Err(alloc::format!("{what}: {e}")),
    };

    // A byte count (`x7`) the kernel must refuse before anything is sent.
    let own = Endpoint::create().map_err(|e| alloc::format!("endpoint_create: {e}"))?;
    let raw_call = |x6: u64, x7: u64| {
        let mut r = keel_user::raw::IpcRegs {
            x: [u64::from(own.handle()), WORDS, 0, 0, 0, 0, x6, x7],
        };
        // SAFETY: `x6` is 0 or points to a valid `IpcBuffers` (its buffers are empty slices
        // of this stack frame), which the kernel reads only.
        unsafe { keel_user::raw::ipc(keel_user::abi::syscall::CALL, &mut r) };
        r.x[0] as i64
    };
    let bufs = keel_user::abi::ipc::IpcBuffers::default();
    let at = &bufs as *const _ as u64;
    for (x6, x7, want, what) in [
        (
            at,
            MSG_MAX as u64 + 1,
            Error::E2BIG,
            "more than MSG_MAX bytes",
        ),
        (0, 16, Error::EFAULT, "bytes without buffers"),
        (at, u64::MAX, Error::E2BIG, "a byte count of 2^64 - 1"),
    ] {
        let r = raw_call(x6, x7);
        if r != want.to_ret() {
            return Err(alloc::format!("call with {what}: {r} instead of {want}"));
        }
    }
    drop(own);

    // The server exits while it holds this caller's reply.
    let (ep, server) = serve(path)?;
    peer_died(ep.call(Message::new(LEAVE, [0; 4])), "server left")?;
    reap(server, "server that left", |s| s.success())?;
    // Every receive handle is closed now: a new call fails at once.
    peer_died(
        ep.call(Message::new(WORDS, [0; 4])),
        "call after the server left",
    )?;

    // The server is killed while it holds a caller's reply.
    let (ep, server) = serve(path)?;
    let caller = start(path, "caller", ep.handle())?;
    process::sleep_ms(SETTLE_MS);
    process::kill(server).map_err(|e| alloc::format!("kill server: {e}"))?;
    reap(server, "killed server", |s| s.killed())?;
    reap(caller, "caller of a killed server", |s| s.code() == 3)?;
    peer_died(ep.call(Message::new(WORDS, [0; 4])), "call after the kill")?;

    // The caller is killed while the server holds its reply: the reply goes nowhere and the
    // server goes on serving.
    let (ep, server) = serve(path)?;
    let caller = start(path, "caller", ep.handle())?;
    process::sleep_ms(SETTLE_MS);
    process::kill(caller).map_err(|e| alloc::format!("kill caller: {e}"))?;
    reap(caller, "killed caller", |s| s.killed())?;
    words(&ep, "call after the killed caller")?;
    let _ = ep.call(Message::new(QUIT, [0; 4]));
    reap(server, "server", |s| s.success())?;
    Ok(())
}

fn client(argv0: &str, n: u64) -> i32 {
    let path = program(argv0);
    let ep = match Endpoint::create() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ipcping: endpoint_create: {e}");
            return 1;
        }
    };
    let pid = match Command::new(path).arg("server").handle(ep.handle()).spawn() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ipcping: cannot start {path} server: {e}");
            return 1;
        }
    };
    let result = rounds(&ep, n);
    let status = match result {
        Ok((words_ns, bytes_ns)) => {
            let each = |ns: u64| ns.checked_div(n).unwrap_or(0);
            println!(
                "ipcping: {n} register round trips, {} ns each",
                each(words_ns)
            );
            println!(
                "ipcping: {n} {BYTES_LEN}-byte round trips, {} ns each",
                each(bytes_ns)
            );
            let _ = ep.call(Message::new(QUIT, [0; 4]));
            0
        }
        Err(what) => {
            eprintln!("ipcping: {what}");
            let _ = process::kill(pid);
            1
        }
    };
    match process::wait(pid) {
        Ok(s) if s.success() || status != 0 => {}
        Ok(s) => {
            eprintln!("ipcping: server ended with status {}", s.code());
            return 1;
        }
        Err(e) => eprintln!("ipcping: wait: {e}"),
    }
    if status == 0 {
        println!("ipcping: ok");
    }
    status
}

/// The two series of calls; the nanoseconds each took.
fn rounds(ep: &Endpoint, n: u64) -> Result<(u64, u64), alloc::string::String> {
    let fail = |i: u64, what: &str, e: Option<Error>| match e {
        Some(e) => alloc::format!("call {i}: {what}: {e}"),
        None => alloc::format!("call {i}: {what}"),
    };
    let start = Instant::now();
    for i in 0..n {
        let words = [i, i * 2, i * 3, u64::MAX - i];
        let r = ep
            .call(Message::new(WORDS, words))
            .map_err(|e| fail(i, "call", Some(e)))?;
        if r.label != WORDS || r.words != words.map(|w| w.wrapping_add(1)) {
            return Err(fail(i, "wrong reply words", None));
        }
    }
    let words_ns = start.elapsed().as_nanos() as u64;

    let mut send = [0u8; BYTES_LEN];
    let mut recv = [0u8; BYTES_LEN];
    let start = Instant::now();
    for i in 0..n {
        for (j, b) in send.iter_mut().enumerate() {
            *b = (i as usize + j) as u8;
        }
        let (r, len) = ep
            .call_with(Message::new(BYTES, [i, 0, 0, 0]), &send, &mut recv)
            .map_err(|e| fail(i, "call with bytes", Some(e)))?;
        if r.label != BYTES || len != BYTES_LEN || r.words[0] != BYTES_LEN as u64 {
            return Err(fail(i, "wrong reply length", None));
        }
        if send.iter().zip(&recv).any(|(s, r)| *r != !*s) {
            return Err(fail(i, "wrong reply bytes", None));
        }
    }
    Ok((words_ns, start.elapsed().as_nanos() as u64))
}

extern crate alloc;
