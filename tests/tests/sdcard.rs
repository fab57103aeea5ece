//! The SD card driver (`sdhci`) and the block layer, on QEMU `virt` (`sdhci-pci`, loaded by its
//! PCI id) and `raspi4b` (the EMMC at 0xFE300000, loaded by its device-tree compatible): a fresh
//! 64 MiB image per test with a known pattern and an MBR, read back through `/dev/mmcblk0` and
//! its partitions; byte, block and 1 MiB writes; `rmmod` refused while the device is open,
//! unload and reload while idle; `sync` and power-off; then the host finds exactly the written
//! bytes changed and no others. Also: no card gives a clear error and no node, and a card
//! pulled mid-transfer gives errors, not hangs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keel_tests::session::COMMAND_TIMEOUT;
use keel_tests::{dist, Kernel, Machine, Qemu, Session};

/// The image: 64 MiB (QEMU wants a power of two).
const IMAGE_BYTES: usize = 64 << 20;
/// Partition 1: FAT32 (LBA), blocks 2048..6144.
const P1: (u64, u64) = (2048, 4096);
/// Partition 2: Linux, blocks 8192..24576.
const P2: (u64, u64) = (8192, 16384);

/// The image's known contents: each 512-byte block starts with `KEEL` and its number in hex,
/// the rest is a pattern of the block number and offset; block 0 holds the MBR.
fn pattern_image() -> Vec<u8> {
    let mut image = vec![0u8; IMAGE_BYTES];
    for (lba, block) in image.chunks_mut(512).enumerate() {
        for (i, b) in block.iter_mut().enumerate() {
            *b = (lba as u32).wrapping_mul(31).wrapping_add(i as u32 * 7) as u8;
        }
        block[..16].copy_from_slice(format!("KEEL{lba:08x}    ").as_bytes());
    }
    let mbr = &mut image[..512];
    mbr[..446].fill(0);
    for (n, (kind, (first, blocks))) in [(0x0cu8, P1), (0x83, P2)].into_iter().enumerate() {
        let e = &mut mbr[446 + 16 * n..446 + 16 * (n + 1)];
        e.fill(0);
        e[4] = kind;
        e[8..12].copy_from_slice(&(first as u32).to_le_bytes());
        e[12..16].copy_from_slice(&(blocks as u32).to_le_bytes());
    }
    mbr[478..510].fill(0);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    image
}

/// A fresh copy of the pattern image in a directory of its own.
fn fresh_image(tag: &str, machine: Machine) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!(
        "keel-sd-{tag}-{}-{}",
        std::process::id(),
        machine_name(machine)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the image directory");
    let path = dir.join("sd.img");
    let image = pattern_image();
    std::fs::write(&path, &image).expect("write the SD image");
    (path, image)
}

fn machine_name(machine: Machine) -> &'static str {
    match machine {
        Machine::Virt => "virt",
        Machine::Raspi4b => "raspi4b",
    }
}

/// A shell on `machine` with the card `image` (none: an empty slot), and a monitor socket.
fn start(machine: Machine, tag: &str, image: Option<&Path>) -> Session {
    let socket = std::env::temp_dir().join(format!(
        "keel-sd-{tag}-{}-{}.monitor",
        std::process::id(),
        machine_name(machine)
    ));
    let _ = std::fs::remove_file(&socket);
    let mut qemu: Qemu = keel_tests::boot(machine, Kernel::Normal)
        .initrd(dist::initramfs(machine))
        .monitor_socket(socket)
        .timeout(Duration::from_secs(300));
    qemu = match machine {
        // An empty `sdhci-pci` host when there is no card.
        Machine::Virt => match image {
            Some(image) => qemu.sd_image_writable(image),
            None => qemu.extra(["-device", "sdhci-pci"].map(String::from)),
        },
        Machine::Raspi4b => match image {
            Some(image) => qemu.sd_image_writable(image),
            None => qemu.no_sd_image(),
        },
    };
    let mut sh = Session::start(&qemu);
    sh.wait_for_shell();
    sh
}

/// Waits for `needle` in the log unless it is there already.
fn seen(sh: &mut Session, needle: &str) {
    if !sh.log().contains(needle) {
        sh.expect(needle, COMMAND_TIMEOUT);
    }
}

/// Loads `sdhci` by hand and waits until its partitions are registered (the work thread reads
/// the partition table after `modprobe` returns, so the lines may come after the prompt).
fn reload(sh: &mut Session) {
    const LAST: &str = "/dev/mmcblk0p2 registered";
    let before = sh.log().matches(LAST).count();
    sh.run("modprobe sdhci");
    if sh.log().matches(LAST).count() == before {
        sh.expect(LAST, COMMAND_TIMEOUT);
    }
}

/// The 16 bytes `hexdump -C` shows for the start of block `lba`.
fn block_tag(lba: u64) -> String {
    format!("|KEEL{lba:08x}    |")
}

/// The shell's pid of the background job it announced (`[7]`).
fn job_pid(sh: &mut Session, out: &str) -> String {
    match out
        .lines()
        .find_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
    {
        Some(pid) => pid.to_string(),
        None => sh.fail("the background job's pid was not printed"),
    }
}

fn card_round_trip(machine: Machine) {
    let (path, original) = fresh_image("rw", machine);
    let mut sh = start(machine, "rw", Some(&path));
    let (loaded_by, clock) = match machine {
        Machine::Virt => (
            "pci: pci:v1B36d0007 -> sdhci",
            "sdhci: pci 00:01.0: SDHCI 2.00, capabilities 0x057834b4, base clock 52 MHz from the capabilities",
        ),
        // The legacy EMMC's base clock comes through the firmware mailbox (QEMU says 50 MHz).
        Machine::Raspi4b => (
            "device tree: brcm,bcm2835-sdhci -> sdhci",
            "base clock 50 MHz from the firmware",
        ),
    };
    for needle in [
        loaded_by,
        clock,
        "131072 blocks (64 MiB), 4-bit bus at",
        "dev: /dev/mmcblk0 registered",
        "dev: /dev/mmcblk0p1 registered: type 0x0c, 4096 blocks from block 2048",
        "dev: /dev/mmcblk0p2 registered: type 0x83, 16384 blocks from block 8192",
    ] {
        seen(&mut sh, needle);
    }
    sh.run_expecting("ls -l /dev", &["mmcblk0", "mmcblk0p1", "mmcblk0p2"]);
    // Every command of the initialisation ended by its interrupt.
    let by_irq = sh.log().lines().find_map(|l| {
        let (_, rest) = l.split_once(" sdhci: ")?;
        let rest = rest.split_once(": ")?.1;
        let (n, tail) = rest.split_once(" commands completed by interrupt, ")?;
        tail.starts_with("0 found complete")
            .then(|| n.parse::<u32>().ok())
            .flatten()
    });
    match by_irq {
        Some(n) if n >= 10 => eprintln!(
            "{}: {n} commands completed by interrupt",
            machine_name(machine)
        ),
        other => sh.fail(&format!(
            "the initialisation's commands did not all end by interrupt ({other:?})"
        )),
    }

    // Reads through the whole disk and the partitions land on the right blocks.
    sh.run_expecting("hexdump -C -s 51200 -n 16 /dev/mmcblk0", &[&block_tag(100)]);
    sh.run_expecting("hexdump -C -n 16 /dev/mmcblk0p1", &[&block_tag(P1.0)]);
    sh.run_expecting(
        "hexdump -C -s 512 -n 16 /dev/mmcblk0p2",
        &[&block_tag(P2.0 + 1)],
    );
    sh.run_expecting(
        "hexdump -C -s 33553920 -n 16 /dev/mmcblk0",
        &[&block_tag(65535)],
    );

    // 1 MiB read (multi-block transfers) and 1 MiB written over partition 1.
    let read = sh.run_expecting(
        "dd if=/dev/mmcblk0 of=/dev/null bs=65536 count=16 skip=64",
        &["1048576 bytes copied"],
    );
    let write = sh.run_expecting(
        "dd if=/dev/zero of=/dev/mmcblk0p1 bs=65536 count=16",
        &["1048576 bytes copied"],
    );
    for (what, out) in [("read", &read), ("write", &write)] {
        if let Some(line) = out.lines().find(|l| l.contains("bytes copied")) {
            eprintln!(
                "{}: 1 MiB {what} through /dev/mmcblk0: {line}",
                machine_name(machine)
            );
        }
    }
    // A byte write into a partition, and one across a block boundary.
    sh.run("echo hello-sd > /dev/mmcblk0p2");
    sh.run("echo boundary | dd of=/dev/mmcblk0 bs=1 seek=1020");
    sh.run_expecting("hexdump -C -s 1018 -n 12 /dev/mmcblk0", &["|..boundary.0|"]);
    // Past the end of a partition.
    sh.run_expecting(
        "dd if=/dev/zero of=/dev/mmcblk0p1 bs=512 seek=4096 count=1",
        &["no space left on device"],
    );

    // An open device pins the module.
    let out = sh.run("sleep 60 < /dev/mmcblk0p2 &");
    let pid = job_pid(&mut sh, &out);
    sh.run_expecting(
        "rmmod sdhci",
        &["rmmod: sdhci is in use by /dev/mmcblk0 (pid"],
    );
    sh.run(&format!("kill {pid}"));
    let mut released = false;
    for _ in 0..20 {
        if !sh.run("lsmod").contains("/dev/mmcblk0") {
            released = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if !released {
        sh.fail("the killed reader still holds /dev/mmcblk0");
    }
    // Idle: unload (written blocks reach the card first) and reload by hand.
    sh.run_expecting("rmmod sdhci", &["/dev/mmcblk0 removed"]);
    if sh.run("ls /dev").contains("mmcblk0") {
        sh.fail("/dev/mmcblk0 outlived its module");
    }
    reload(&mut sh);
    sh.run_expecting("hexdump -C -n 9 /dev/mmcblk0p2", &["|hello-sd.|"]);
    sh.run_expecting("hexdump -C -n 16 /dev/mmcblk0p1", &["00 00 00 00"]);

    // One more write that only sync and power-off carry to the card.
    sh.run("echo last-write | dd of=/dev/mmcblk0 bs=512 seek=30000");
    sh.run("sync");
    sh.send_line("poweroff");
    let outcome = sh.finish(Duration::from_secs(60));
    if outcome.timed_out {
        panic!("QEMU did not power off\n{}", outcome.output);
    }

    let mut expected = original;
    let p1 = P1.0 as usize * 512;
    expected[p1..p1 + (1 << 20)].fill(0);
    let p2 = P2.0 as usize * 512;
    expected[p2..p2 + 9].copy_from_slice(b"hello-sd\n");
    expected[1020..1029].copy_from_slice(b"boundary\n");
    let last = 30000 * 512;
    expected[last..last + 11].copy_from_slice(b"last-write\n");
    let after = std::fs::read(&path).expect("read the SD image back");
    assert_eq!(after.len(), expected.len(), "the image changed size");
    let differing: Vec<usize> = (0..after.len())
        .filter(|&i| after[i] != expected[i])
        .collect();
    if !differing.is_empty() {
        panic!(
            "{} bytes differ from the expected image, the first at {:#x} (expected {:#04x}, \
             found {:#04x})\n{}",
            differing.len(),
            differing[0],
            expected[differing[0]],
            after[differing[0]],
            outcome.output
        );
    }
    let _ = std::fs::remove_dir_all(path.parent().expect("the image's directory"));
}

#[test]
fn sd_card_on_virt() {
    card_round_trip(Machine::Virt);
}

#[test]
fn sd_card_on_raspi4b() {
    card_round_trip(Machine::Raspi4b);
}

fn no_card(machine: Machine) {
    let mut sh = start(machine, "nocard", None);
    for needle in [
        "sdhci: no SD card found on any controller",
        "sdhci: init failed: no medium found",
    ] {
        seen(&mut sh, needle);
    }
    if sh.run("ls /dev").contains("mmcblk") {
        sh.fail("/dev/mmcblk0 exists without a card");
    }
    sh.run_expecting("insmod /lib/modules/sdhci.ko", &["no medium found"]);
}

#[test]
fn no_card_on_virt() {
    no_card(Machine::Virt);
}

#[test]
fn no_card_on_raspi4b() {
    no_card(Machine::Raspi4b);
}

/// The card leaves while a long read runs: the read ends with an error, and later accesses say
/// "no medium found"; nothing hangs. (QEMU names the card's drive `sd0` on both machines.)
fn card_pulled_mid_transfer(machine: Machine) {
    let (path, _) = fresh_image("pull", machine);
    let mut sh = start(machine, "pull", Some(&path));
    seen(&mut sh, "dev: /dev/mmcblk0p2 registered");
    sh.send_line("dd if=/dev/mmcblk0 of=/dev/null bs=65536 &");
    std::thread::sleep(Duration::from_millis(300));
    sh.monitor("eject -f sd0");
    sh.expect("dd: error reading '/dev/mmcblk0'", Duration::from_secs(30));
    sh.run_expecting(
        "dd if=/dev/mmcblk0 of=/dev/null bs=512 count=1 skip=99999",
        &["no medium found"],
    );
    sh.run_expecting("echo still here", &["still here"]);

    // A card goes back in: the driver says so; reloading it brings the card back.
    sh.monitor(&format!("change sd0 {} raw", path.display()));
    seen(&mut sh, "a card was inserted (reload the module to use it)");
    sh.run_expecting("rmmod sdhci", &["/dev/mmcblk0 removed"]);
    reload(&mut sh);
    sh.run_expecting("hexdump -C -s 51200 -n 16 /dev/mmcblk0", &[&block_tag(100)]);
    let _ = std::fs::remove_dir_all(path.parent().expect("the image's directory"));
}

/// A 4 GiB card (sparse on the host) is SDHC: block addresses. A block past 2 GiB is read and
/// one is written; after power-off the host finds it.
#[test]
fn sdhc_card_on_virt() {
    const TAG_LBA: u64 = 6_000_000;
    const WRITE_LBA: u64 = 7_000_000;
    let dir = std::env::temp_dir().join(format!("keel-sd-sdhc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the image directory");
    let path = dir.join("sd.img");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::File::create(&path).expect("create the SD image");
        file.set_len(4 << 30).expect("size the SD image");
        file.seek(SeekFrom::Start(TAG_LBA * 512))
            .and_then(|_| file.write_all(format!("KEEL{TAG_LBA:08x}    ").as_bytes()))
            .expect("write the tag");
    }
    let mut sh = start(Machine::Virt, "sdhc", Some(&path));
    seen(&mut sh, "SDHC/SDXC card QEMU!, 8388608 blocks (4096 MiB)");
    seen(&mut sh, "dev: /dev/mmcblk0 registered");
    sh.run_expecting(
        &format!("hexdump -C -s {} -n 16 /dev/mmcblk0", TAG_LBA * 512),
        &[&block_tag(TAG_LBA)],
    );
    sh.run(&format!(
        "echo far-write | dd of=/dev/mmcblk0 bs=512 seek={WRITE_LBA}"
    ));
    sh.send_line("poweroff");
    let outcome = sh.finish(Duration::from_secs(60));
    assert!(
        !outcome.timed_out,
        "QEMU did not power off\n{}",
        outcome.output
    );
    let mut found = [0u8; 16];
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&path).expect("open the SD image");
        file.seek(SeekFrom::Start(WRITE_LBA * 512))
            .and_then(|_| file.read_exact(&mut found))
            .expect("read the written block");
    }
    assert_eq!(&found, b"far-write\n\0\0\0\0\0\0", "{}", outcome.output);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn card_pulled_mid_transfer_on_virt() {
    card_pulled_mid_transfer(Machine::Virt);
}

#[test]
fn card_pulled_mid_transfer_on_raspi4b() {
    card_pulled_mid_transfer(Machine::Raspi4b);
}

/// A transfer whose completion never comes (the driver's `inject_timeout` parameter leaves the
/// second transfer after loading unanswered; the first reads the partition table): the kernel
/// gives up after its deadline, aborts it and tries again; the driver stops the card and reads
/// its state before the retry, and the read returns the right bytes.
fn lost_completion_is_retried(machine: Machine) {
    let (path, _) = fresh_image("retry", machine);
    let mut sh = start(machine, "retry", Some(&path));
    seen(&mut sh, "dev: /dev/mmcblk0p2 registered");
    sh.run_expecting("rmmod sdhci", &["/dev/mmcblk0 removed"]);
    let before = sh.log().matches("/dev/mmcblk0p2 registered").count();
    sh.run("insmod /lib/modules/sdhci.ko inject_timeout=2");
    if sh.log().matches("/dev/mmcblk0p2 registered").count() == before {
        sh.expect("/dev/mmcblk0p2 registered", COMMAND_TIMEOUT);
    }
    sh.run_expecting("hexdump -C -s 51200 -n 16 /dev/mmcblk0", &[&block_tag(100)]);
    for needle in [
        "transfer left unanswered (inject_timeout)",
        "block: /dev/mmcblk0: transfer at block 100 timed out",
        "recovered after a failed transfer (card state 4)",
    ] {
        seen(&mut sh, needle);
    }
    sh.run_expecting(
        "hexdump -C -s 512 -n 16 /dev/mmcblk0p2",
        &[&block_tag(P2.0 + 1)],
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("the image's directory"));
}

#[test]
fn lost_completion_is_retried_on_virt() {
    lost_completion_is_retried(Machine::Virt);
}

#[test]
fn lost_completion_is_retried_on_raspi4b() {
    lost_completion_is_retried(Machine::Raspi4b);
}

/// A written block still in the cache when the card leaves: `sync` reports the error and the
/// kernel log says how many written blocks were lost; nothing is dropped silently.
#[test]
fn sync_after_the_card_left_reports_lost_writes_on_virt() {
    let (path, original) = fresh_image("lost", Machine::Virt);
    let mut sh = start(Machine::Virt, "lost", Some(&path));
    seen(&mut sh, "dev: /dev/mmcblk0p2 registered");
    sh.run("echo cached-only > /dev/mmcblk0p2");
    sh.monitor("eject -f sd0");
    seen(&mut sh, "the card was removed");
    sh.run_expecting("sync", &["sync: no medium found"]);
    seen(
        &mut sh,
        "/dev/mmcblk0: 1 written blocks lost with the medium",
    );
    // Nothing is left to write.
    if sh.run("sync").contains("sync:") {
        sh.fail("a second sync still failed");
    }
    drop(sh);
    let after = std::fs::read(&path).expect("read the SD image back");
    assert!(
        after == original,
        "the image changed although the card had left"
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("the image's directory"));
}
