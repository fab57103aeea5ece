//! Host tests for the initial stack: every image is decoded back and checked.

use super::*;

const TOP: u64 = 0x7fff_0000;

/// Builds an image with [`build_into`].
fn make(top: u64, args: &[&[u8]], env: &[&[u8]]) -> Result<(StackImage, Vec<u8>), StackError> {
    let mut out = vec![0xaa; image_len(args, env)?];
    let image = build_into(top, args, env, &mut out)?;
    Ok((image, out))
}

/// Reads the `u64` at user address `addr` of an image starting at `sp`.
fn read_u64(out: &[u8], sp: u64, addr: u64) -> u64 {
    let at = usize::try_from(addr - sp).unwrap();
    u64::from_le_bytes(out[at..at + 8].try_into().unwrap())
}

/// Decodes `count` records at `addr` and returns the strings they point at, checking that each
/// lies in the image, above the records, and is followed by a NUL.
fn strings(
    out: &[u8],
    sp: u64,
    top: u64,
    addr: u64,
    count: u64,
    strings_start: u64,
) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let rec = addr + i * 16;
            let ptr = read_u64(out, sp, rec);
            let len = read_u64(out, sp, rec + 8);
            assert!(
                ptr >= strings_start,
                "string {i} at {ptr:#x} is below the strings"
            );
            assert!(ptr + len < top, "string {i} and its NUL end below top");
            let at = (ptr - sp) as usize;
            assert_eq!(out[at + len as usize], 0, "string {i} is NUL-terminated");
            out[at..at + len as usize].to_vec()
        })
        .collect()
}

/// Builds an image, decodes it back and checks every pointer and string.
fn round_trip(top: u64, args: &[&[u8]], env: &[&[u8]]) -> StackImage {
    let (image, out) = make(top, args, env).unwrap();
    assert_eq!(image.sp % 16, 0);
    assert_eq!(image.sp + out.len() as u64, top);
    assert_eq!(image.argv, image.sp);
    assert_eq!(image.argc, args.len() as u64);
    assert_eq!(image.envc, env.len() as u64);
    assert_eq!(image.envp, image.argv + 16 * image.argc);
    let strings_start = image.envp + 16 * image.envc;
    let got_args = strings(&out, image.sp, top, image.argv, image.argc, strings_start);
    let got_env = strings(&out, image.sp, top, image.envp, image.envc, strings_start);
    assert_eq!(got_args, args);
    assert_eq!(got_env, env);
    // The strings are packed in order: args then env, each with its NUL, then zero padding.
    let mut expected = Vec::new();
    for s in args.iter().chain(env) {
        expected.extend_from_slice(s);
        expected.push(0);
    }
    let packed = &out[(strings_start - image.sp) as usize..];
    assert_eq!(&packed[..expected.len()], &expected[..]);
    assert!(packed[expected.len()..].iter().all(|&b| b == 0));
    assert!(packed.len() - expected.len() < 16);
    image
}

#[test]
fn typical_program() {
    let image = round_trip(
        TOP,
        &[b"/bin/sh", b"-c", b"echo hi"],
        &[b"PATH=/bin", b"HOME=/"],
    );
    // 5 records (80 bytes) + 36 bytes of strings and NULs = 116, rounded up to 128.
    assert_eq!(image.sp, TOP - 128);
    assert_eq!(image.envp, image.sp + 48);
}

#[test]
fn no_arguments_no_environment() {
    let image = round_trip(TOP, &[], &[]);
    assert_eq!(
        image,
        StackImage {
            sp: TOP,
            argv: TOP,
            argc: 0,
            envp: TOP,
            envc: 0
        }
    );
    assert_eq!(image_len(&[], &[]), Ok(0));
}

#[test]
fn empty_strings_and_binary_bytes() {
    round_trip(TOP, &[b"", b"", b"\0\xff\x01"], &[b""]);
    round_trip(TOP, &[], &[b"A=1"]);
    round_trip(TOP, &[b"only"], &[]);
}

#[test]
fn every_padding_length() {
    for len in 0..40 {
        let s = vec![b'x'; len];
        let image = round_trip(TOP, &[&s], &[]);
        assert_eq!(TOP - image.sp, (16 + len as u64 + 1).next_multiple_of(16));
    }
}

#[test]
fn argument_count_limit() {
    let many: Vec<&[u8]> = vec![b"a"; MAX_ARGS];
    round_trip(TOP, &many[..MAX_ARGS - 10], &many[..10]);
    let e = make(TOP, &many, &[b"X=1"]).unwrap_err();
    assert_eq!(
        e,
        StackError::TooManyArgs {
            count: MAX_ARGS + 1
        }
    );
    assert_eq!(
        e.to_string(),
        "initial stack refused: 257 arguments and environment entries, the limit is 256"
    );
}

#[test]
fn byte_limit() {
    // One argument filling the limit exactly: 16 bytes of record, the string, its NUL.
    let exact = vec![b'y'; MAX_ARG_BYTES - 16 - 1];
    let image = round_trip(TOP, &[&exact], &[]);
    assert_eq!(TOP - image.sp, MAX_ARG_BYTES as u64);
    let over = vec![b'y'; MAX_ARG_BYTES - 16];
    let e = make(TOP, &[&over], &[]).unwrap_err();
    assert_eq!(
        e,
        StackError::TooManyBytes {
            bytes: MAX_ARG_BYTES + 1
        }
    );
    assert_eq!(
        e.to_string(),
        "initial stack refused: arguments and environment need 65537 bytes, the limit is 65536"
    );
    // Records count too: many empty strings.
    let empties: Vec<&[u8]> = vec![b""; 200];
    let big = vec![b'z'; MAX_ARG_BYTES - 200 * 17 + 1];
    assert!(matches!(
        make(TOP, &empties, &[&big]),
        Err(StackError::TooManyBytes { .. })
    ));
}

#[test]
fn misaligned_or_low_top() {
    for top in [TOP + 1, TOP + 8, TOP + 15, 1] {
        let e = make(top, &[b"a"], &[]).unwrap_err();
        assert_eq!(e, StackError::MisalignedTop { top });
    }
    assert_eq!(
        make(TOP + 8, &[], &[]).unwrap_err().to_string(),
        "initial stack refused: top 0x7fff0008 is not 16-byte aligned"
    );
    // 32 bytes needed, 16 available.
    let e = make(16, &[b"abc"], &[]).unwrap_err();
    assert_eq!(e, StackError::TopTooLow { top: 16, size: 32 });
    assert_eq!(
        e.to_string(),
        "initial stack refused: 32 bytes do not fit below top 0x10"
    );
    // Exactly down to address 0 is fine; an empty image fits anywhere.
    assert_eq!(round_trip(32, &[b"abc"], &[]).sp, 0);
    assert_eq!(round_trip(0, &[], &[]).sp, 0);
}

#[test]
fn buffer_must_match() {
    let mut out = [0u8; 48];
    let e = build_into(TOP, &[b"abc"], &[], &mut out).unwrap_err();
    assert_eq!(e, StackError::BufferSize { len: 48, need: 32 });
    assert_eq!(
        e.to_string(),
        "initial stack refused: the 48-byte buffer does not match the 32-byte image"
    );
}

#[cfg(feature = "alloc")]
#[test]
fn build_fills_a_vec() {
    let mut out = vec![1, 2, 3];
    let image = build(TOP, &[b"init"], &[b"TERM=vt100"], &mut out).unwrap();
    let (expected_image, expected) = make(TOP, &[b"init"], &[b"TERM=vt100"]).unwrap();
    assert_eq!(image, expected_image);
    assert_eq!(out, expected);
    assert_eq!(
        build(TOP + 4, &[b"init"], &[], &mut out),
        Err(StackError::MisalignedTop { top: TOP + 4 })
    );
    assert!(out.is_empty());
}

#[test]
fn random_images_round_trip() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..500 {
        let count = (next() % 12) as usize;
        let owned: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = (next() % 24) as usize;
                (0..len).map(|_| next() as u8).collect()
            })
            .collect();
        let all: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let split = (next() as usize) % (count + 1);
        let top = (next() % (1 << 40)) & !15;
        let (args, env) = all.split_at(split);
        if top < image_len(args, env).unwrap() as u64 {
            continue;
        }
        round_trip(top, args, env);
    }
}
