//! A deterministic mutation fuzzer: valid objects (hand-made and rustc-made) get bit flips,
//! byte sets, truncations and header, section-header and table-entry changes, then go
//! through parse, layout and link. Every outcome must be a value: `Ok` or a `LoadError`
//! whose message formats; a panic fails the test and names the iteration.
//!
//! `KEEL_FUZZ_ITERS` sets the number of iterations (default 5000), `KEEL_FUZZ_SEED` the seed:
//!
//! ```text
//! KEEL_FUZZ_ITERS=1000000 CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
//!     cargo test -p keel-modload --release --test fuzz -- --nocapture
//! ```

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use keel_modload::{Image, Object};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A value likely to hit edge cases.
    fn interesting(&mut self, len: usize) -> u64 {
        let len = len as u64;
        match self.below(12) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => u64::MAX - self.next() % 64,
            4 => len,
            5 => len.wrapping_sub(1 + self.next() % 16),
            6 => 1 << self.below(64),
            7 => 0x7fff_ffff,
            8 => 0xffff,
            9 => self.next() % 256,
            10 => self.next() % (len + 1),
            _ => self.next(),
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Applies one random mutation.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    let write = |bytes: &mut Vec<u8>, at: usize, width: usize, value: u64| {
        if at.checked_add(width).is_some_and(|end| end <= bytes.len()) {
            bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        }
    };
    match rng.below(7) {
        0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(len);
            bytes[at] = rng.interesting(len) as u8;
        }
        2 => {
            let new_len = rng.below(len);
            bytes.truncate(new_len);
        }
        3 => {
            // A file-header field.
            let (at, width) = [
                (16, 2),
                (18, 2),
                (40, 8),
                (58, 2),
                (60, 2),
                (62, 2),
                (4, 1),
                (5, 1),
            ][rng.below(8)];
            let v = rng.interesting(len);
            write(bytes, at, width, v);
        }
        4 => {
            // A section-header field.
            if len >= 64 {
                let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
                let shnum = u16::from_le_bytes(bytes[60..62].try_into().unwrap()) as usize;
                let index = rng.below(shnum.max(1));
                let (field, width) = [
                    (0, 4),
                    (4, 4),
                    (8, 8),
                    (24, 8),
                    (32, 8),
                    (40, 4),
                    (44, 4),
                    (48, 8),
                    (56, 8),
                ][rng.below(9)];
                let at = shoff.saturating_add(64 * index).saturating_add(field);
                let v = rng.interesting(len);
                write(bytes, at, width, v);
            }
        }
        5 => {
            // Any aligned 8-, 4- or 2-byte field (symbol and relocation entries live here).
            let width = [2, 4, 8][rng.below(3)];
            let at = rng.below(len) & !(width - 1);
            let v = rng.interesting(len);
            write(bytes, at, width, v);
        }
        _ => {
            // Copy a chunk over another place.
            let from = rng.below(len);
            let to = rng.below(len);
            let n = rng.below(64).min(len - from).min(len - to);
            bytes.copy_within(from..from + n, to);
        }
    }
}

/// How far an input got.
#[derive(Clone, Copy)]
enum Outcome {
    Refused,
    TooLarge,
    LinkFailed,
    Linked,
}

/// Runs one input through parse, layout and link.
fn exercise(rng: &mut Rng, bytes: &[u8]) -> Outcome {
    let obj = match Object::parse(bytes) {
        Ok(obj) => obj,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return Outcome::Refused;
        }
    };
    let _ = obj.imports().count();
    let layout = obj.layout();
    const LIMIT: usize = 16 << 20;
    if layout.text > LIMIT || layout.rodata > LIMIT || layout.data > LIMIT {
        return Outcome::TooLarge;
    }
    let align = layout.max_align().max(4096) as u64;
    let round = |n: usize| (n as u64).div_ceil(align) * align;
    // Mostly a sane arrangement (regions next to each other, imports nearby) so links get
    // deep; sometimes wild addresses to reach the range checks.
    let sane = rng.below(4) != 0;
    let (text_va, rodata_va, data_va) = if sane {
        let base = 0xffff_0000_4000_0000 + align * rng.below(1 << 12) as u64;
        let rodata = base + round(layout.text);
        (base, rodata, rodata + round(layout.rodata))
    } else {
        let mut pick = |size: usize| -> u64 {
            match rng.below(3) {
                0 => 0,
                1 => (u64::MAX - size as u64) & !(align - 1),
                _ => rng.next() & !(align - 1) & 0x0000_ffff_ffff_ffff,
            }
        };
        (pick(layout.text), pick(layout.rodata), pick(layout.data))
    };
    let mut text = vec![0u8; layout.text];
    let mut rodata = vec![0u8; layout.rodata];
    let mut data = vec![0u8; layout.data];
    let mut image = Image {
        text: &mut text,
        text_va,
        rodata: &mut rodata,
        rodata_va,
        data: &mut data,
        data_va,
    };
    let seed = rng.next();
    let result = obj.link(&mut image, &mut |name| {
        let h = name
            .bytes()
            .fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
        match h % 16 {
            0 => None,
            1 => Some(h),
            _ if sane => Some(text_va + 0x2000_0000 + (h % 0x1000) * 16),
            _ => Some(h),
        }
    });
    match result {
        Ok(linked) => {
            for s in linked.symbols() {
                assert!(linked.symbol(s.name).is_some());
            }
            Outcome::Linked
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            Outcome::LinkFailed
        }
    }
}

#[test]
fn mutated_objects_never_panic() {
    let iters = env_u64("KEEL_FUZZ_ITERS", 5000);
    let seed = env_u64("KEEL_FUZZ_SEED", 0x6b65_656c_6d6f_646c);
    let mut seeds = vec![sample_object()];
    for fixture in ["asm_relocs", "alloc_fmt"] {
        if let Some(obj) = compile(fixture) {
            seeds.push(obj);
        }
    }
    // The unmutated seeds must load.
    for s in &seeds {
        Object::parse(s).unwrap();
    }
    let mut rng = Rng(seed | 1);
    let mut counts = [0u64; 4];
    for iter in 0..iters {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut bytes);
        }
        let mut inner = Rng(rng.next() | 1);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&mut inner, &bytes)));
        match outcome {
            Ok(o) => counts[o as usize] += 1,
            Err(_) => {
                let path =
                    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("modload-fuzz-crash.o");
                std::fs::write(&path, &bytes).unwrap();
                panic!(
                    "iteration {iter} (seed {seed:#x}) panicked; input saved to {}",
                    path.display()
                );
            }
        }
    }
    eprintln!(
        "fuzz: {iters} inputs: {} refused by parse, {} too large to link, {} refused by link, {} linked",
        counts[0], counts[1], counts[2], counts[3]
    );
}
