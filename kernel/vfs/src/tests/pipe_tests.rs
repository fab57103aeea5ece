//! Pipes: end of file, broken pipe, EAGAIN and wake-ups.

use keel_abi::types::{FileKind, SEEK_SET};
use keel_abi::Errno;

use super::{waker, wakes};
use crate::{pipe, pipe_files, FdTable, OpenFile, PIPE_CAPACITY};

#[test]
fn data_eof_and_eagain() {
    waker();
    let (r, w) = pipe_files(PIPE_CAPACITY).unwrap();
    let rkey = r.wait_key().unwrap();
    let wkey = w.wait_key().unwrap();
    assert_ne!(rkey, wkey);
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf).unwrap_err(), Errno::EAGAIN);
    let before = wakes(rkey);
    assert_eq!(w.write(b"hello").unwrap(), 5);
    assert_eq!(wakes(rkey), before + 1);
    assert_eq!(r.stat().size, 5);
    assert_eq!(r.stat().kind, FileKind::Pipe as u32);
    assert_eq!(r.read(&mut buf[..3]).unwrap(), 3);
    assert_eq!(&buf[..3], b"hel");
    let before_w = wakes(wkey);
    assert_eq!(r.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"lo");
    assert_eq!(wakes(wkey), before_w + 1);
    assert_eq!(r.seek(0, SEEK_SET).unwrap_err(), Errno::ESPIPE);
    assert_eq!(w.seek(0, SEEK_SET).unwrap_err(), Errno::ESPIPE);
    assert_eq!(r.write(b"x").unwrap_err(), Errno::EBADF);
    assert_eq!(w.read(&mut buf).unwrap_err(), Errno::EBADF);
    assert_eq!(r.read(&mut []).unwrap(), 0);
    // Last writer closes: the reader is woken and sees end of file after the data.
    w.write(b"z").unwrap();
    let before = wakes(rkey);
    drop(w);
    assert_eq!(wakes(rkey), before + 1);
    assert_eq!(r.read(&mut buf).unwrap(), 1);
    assert_eq!(r.read(&mut buf).unwrap(), 0);
}

#[test]
fn full_pipe_and_broken_pipe() {
    waker();
    let (r, w) = pipe_files(4).unwrap();
    let wkey = w.wait_key().unwrap();
    assert_eq!(w.write(b"abcdef").unwrap(), 4);
    assert_eq!(w.write(b"g").unwrap_err(), Errno::EAGAIN);
    assert_eq!(w.write(b"").unwrap(), 0);
    let mut buf = [0u8; 2];
    let before = wakes(wkey);
    assert_eq!(r.read(&mut buf).unwrap(), 2);
    assert_eq!(wakes(wkey), before + 1);
    assert_eq!(w.write(b"ghij").unwrap(), 2);
    let mut all = [0u8; 8];
    assert_eq!(r.read(&mut all).unwrap(), 4);
    assert_eq!(&all[..4], b"cdgh");
    // Last reader closes: the writer is woken and gets EPIPE.
    let before = wakes(wkey);
    drop(r);
    assert_eq!(wakes(wkey), before + 1);
    assert_eq!(w.write(b"x").unwrap_err(), Errno::EPIPE);
}

#[test]
fn ends_counted_across_descriptors() {
    waker();
    let (r, w) = pipe_files(16).unwrap();
    let mut parent = FdTable::new();
    let rfd = parent.insert(r).unwrap();
    let wfd = parent.insert(w).unwrap();
    // A child gets the write end as stdout; the parent closes its copy.
    let child = parent.clone_for_spawn(&[-1, wfd, -1]).unwrap();
    parent.close(wfd).unwrap();
    let reader = parent.get(rfd).unwrap();
    assert_eq!(reader.read(&mut [0; 4]).unwrap_err(), Errno::EAGAIN);
    assert_eq!(child.get(1).unwrap().write(b"hi").unwrap(), 2);
    drop(child);
    let mut buf = [0u8; 4];
    assert_eq!(reader.read(&mut buf).unwrap(), 2);
    assert_eq!(reader.read(&mut buf).unwrap(), 0);
}

#[test]
fn raw_ends_and_a_second_opener() {
    waker();
    let (r, w) = pipe(0);
    // Not opened yet: no writer, no reader.
    assert_eq!(r.read_at(0, &mut [0; 1]).unwrap(), 0);
    assert_eq!(w.write_at(0, b"x").unwrap_err(), Errno::EPIPE);
    let r1 = OpenFile::new(r.clone(), keel_abi::types::O_RDONLY).unwrap();
    let w1 = OpenFile::new(w.clone(), keel_abi::types::O_WRONLY).unwrap();
    let w2 = OpenFile::new(w, keel_abi::types::O_WRONLY).unwrap();
    // Capacity 0 means 1.
    assert_eq!(w1.write(b"ab").unwrap(), 1);
    drop(w1);
    let mut buf = [0u8; 2];
    assert_eq!(r1.read(&mut buf).unwrap(), 1);
    // One writer is still open.
    assert_eq!(r1.read(&mut buf).unwrap_err(), Errno::EAGAIN);
    drop(w2);
    assert_eq!(r1.read(&mut buf).unwrap(), 0);
}

#[test]
fn threads_pass_a_stream_through_a_pipe() {
    waker();
    let (r, w) = pipe_files(64).unwrap();
    let writer = std::thread::spawn(move || {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut sent = 0;
        while sent < data.len() {
            match w.write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => std::thread::yield_now(),
                Err(e) => panic!("write: {e}"),
            }
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => std::thread::yield_now(),
            Err(e) => panic!("read: {e}"),
        }
    }
    writer.join().unwrap();
    assert_eq!(got.len(), 10_000);
    assert!(got.iter().enumerate().all(|(i, &b)| b == i as u8));
}

#[test]
fn the_waker_is_installed_once() {
    struct Other;
    impl crate::Wake for Other {
        fn wake(&self, _key: usize) {}
    }
    waker();
    assert!(!crate::set_waker(&Other));
}
