//! The program's arguments and environment, as the kernel put them on the initial stack.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use keel_abi::types::UserSlice;

static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<UserSlice> = AtomicPtr::new(core::ptr::null_mut());
static ENVC: AtomicUsize = AtomicUsize::new(0);
static ENVP: AtomicPtr<UserSlice> = AtomicPtr::new(core::ptr::null_mut());

/// Records where the arguments and environment are. Called once by the runtime.
///
/// # Safety
/// See [`crate::rt::start`].
pub(crate) unsafe fn init(
    argc: usize,
    argv: *const UserSlice,
    envc: usize,
    envp: *const UserSlice,
) {
    let (argc, envc) = (
        if argv.is_null() { 0 } else { argc },
        if envp.is_null() { 0 } else { envc },
    );
    ARGC.store(argc, Ordering::Relaxed);
    ARGV.store(argv as *mut UserSlice, Ordering::Relaxed);
    ENVC.store(envc, Ordering::Relaxed);
    ENVP.store(envp as *mut UserSlice, Ordering::Relaxed);
}

/// String `i` of a table of `n` slices (invalid UTF-8 reads as `"?"`).
fn entry(table: *const UserSlice, n: usize, i: usize) -> Option<&'static str> {
    if i >= n || table.is_null() {
        return None;
    }
    // SAFETY: `init`'s contract: `table` holds `n` slices naming bytes valid for the whole
    // program, and `i < n`.
    let bytes = unsafe {
        let s = *table.add(i);
        if s.ptr == 0 || s.len == 0 {
            return Some("");
        }
        core::slice::from_raw_parts(s.ptr as *const u8, s.len as usize)
    };
    Some(core::str::from_utf8(bytes).unwrap_or("?"))
}

/// The command-line arguments, `argv[0]` (the program's path or name) first. An iterator of
/// `&'static str`; cheap to clone.
#[derive(Clone, Debug)]
pub struct Args {
    front: usize,
    back: usize,
}

impl Args {
    /// The program's arguments.
    pub fn current() -> Args {
        Args {
            front: 0,
            back: ARGC.load(Ordering::Relaxed),
        }
    }

    /// Arguments not yet iterated over.
    pub fn len(&self) -> usize {
        self.back - self.front
    }

    /// Whether every argument has been iterated over.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` counted from the current position (0 = the next one).
    pub fn arg(&self, i: usize) -> Option<&'static str> {
        if i >= self.len() {
            return None;
        }
        entry(
            ARGV.load(Ordering::Relaxed),
            ARGC.load(Ordering::Relaxed),
            self.front + i,
        )
    }
}

impl Iterator for Args {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        let s = self.arg(0)?;
        self.front += 1;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl DoubleEndedIterator for Args {
    fn next_back(&mut self) -> Option<&'static str> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        entry(
            ARGV.load(Ordering::Relaxed),
            ARGC.load(Ordering::Relaxed),
            self.back,
        )
    }
}

impl ExactSizeIterator for Args {}

/// The environment: `NAME=value` strings. An iterator of `&'static str`; cheap to clone.
#[derive(Clone, Debug)]
pub struct Env {
    next: usize,
    end: usize,
}

impl Env {
    /// The program's environment.
    pub fn current() -> Env {
        Env {
            next: 0,
            end: ENVC.load(Ordering::Relaxed),
        }
    }

    /// The value of `name`, if set.
    pub fn var(name: &str) -> Option<&'static str> {
        Env::current().find_map(|e| {
            let (k, v) = e.split_once('=')?;
            (k == name).then_some(v)
        })
    }
}

impl Iterator for Env {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.next >= self.end {
            return None;
        }
        let s = entry(
            ENVP.load(Ordering::Relaxed),
            ENVC.load(Ordering::Relaxed),
            self.next,
        );
        self.next += 1;
        s
    }
}

/// The program's name for messages: the last component of `argv[0]`, or `"?"`.
pub fn program_name() -> &'static str {
    match entry(
        ARGV.load(Ordering::Relaxed),
        ARGC.load(Ordering::Relaxed),
        0,
    ) {
        Some(path) if !path.is_empty() => path.rsplit('/').next().unwrap_or(path),
        _ => "?",
    }
}
