//! The device model on QEMU `virt` (`gpio-pl061`) and `raspi4b` (`gpio-bcm2711`), typed into the
//! shell: driver modules loaded at boot by device-tree matching and by hand, `/dev/gpiochip0` and
//! the `gpio` command, `rmmod` refused while a device is open, unload and reload while idle, the
//! PL061 interrupt raised by the monitor's `system_powerdown` (top half wakes the waiter, bottom
//! half logs) for an edge and for a level, level waits that return at once, a driver whose
//! device operation faults, the block class through `ramdisk` and the tty class through
//! `ttyloop`; `uart-pl011` taking the console over from the built-in driver on both machines,
//! `stty`, and the console handed back and taken again across rmmod and modprobe.

use std::time::Duration;

use keel_tests::session::{COMMAND_TIMEOUT, PROMPT};
use keel_tests::{dist, Kernel, Machine, Session};

/// A shell session on `machine` with a monitor socket of its own.
fn start(machine: Machine, tag: &str) -> Session {
    let socket = std::env::temp_dir().join(format!(
        "keel-{tag}-{}-{}.monitor",
        std::process::id(),
        match machine {
            Machine::Virt => "virt",
            Machine::Raspi4b => "raspi4b",
        }
    ));
    let _ = std::fs::remove_file(&socket);
    let qemu = keel_tests::boot(machine, Kernel::Normal)
        .initrd(dist::initramfs(machine))
        .monitor_socket(socket);
    let mut sh = Session::start(&qemu);
    sh.wait_for_shell();
    sh
}

/// The lsmod row of `name`, if listed.
fn lsmod_row(lsmod: &str, name: &str) -> Option<String> {
    lsmod
        .lines()
        .map(str::trim_end)
        .find(|line| line.split_whitespace().next() == Some(name))
        .map(String::from)
}

#[test]
fn gpio_pl061_on_virt() {
    let mut sh = start(Machine::Virt, "gpio");
    for needle in [
        "device tree: arm,pl061 -> gpio-pl061",
        "dev: /dev/gpiochip0 registered",
        "gpio-pl061: /pl061@9030000: 8 lines at 0x9030000, interrupt 39, clock 24000000 Hz",
    ] {
        if !sh.log().contains(needle) {
            sh.fail(&format!("the boot log lacks {needle:?}"));
        }
    }
    sh.run_expecting("ls /dev", &["gpiochip0"]);
    sh.run_expecting("gpio info", &["8 lines, driver gpio-pl061"]);

    // Outputs read back, through the hardware's data register.
    sh.run("gpio set 5 1");
    sh.run_expecting("gpio get 5", &["1\n"]);
    sh.run("gpio set 5 0");
    let out = sh.run("gpio get 5");
    if !out.ends_with("0\n") {
        sh.fail(&format!("gpio get 5 after gpio set 5 0 printed {out:?}"));
    }
    sh.run("gpio set 6 1");
    sh.run_expecting("gpio get 6", &["1\n"]);
    sh.run("gpio mode 6 in");

    // Bad input gets an error, never a fault.
    sh.run_expecting("gpio get 8", &["gpio: /dev/gpiochip0: invalid argument"]);
    sh.run_expecting(
        "gpio pull 5 up",
        &["gpio: /dev/gpiochip0: invalid argument"],
    );
    sh.run_expecting("gpio set 5 7", &["gpio: '7' is not 0 or 1"]);
    sh.run_expecting("gpio -c gpiochip9 info", &["no such file or directory"]);

    // A waiter holds /dev/gpiochip0 open: rmmod is refused, naming it.
    sh.send_line("gpio wait 3 rising &");
    sh.expect("waiting for line 3", COMMAND_TIMEOUT);
    sh.run_expecting(
        "rmmod gpio-pl061",
        &["rmmod: gpio-pl061 is in use by /dev/gpiochip0 (pid"],
    );
    let lsmod = sh.run("lsmod");
    match lsmod_row(&lsmod, "gpio-pl061") {
        Some(row) if row.contains(" 1 /dev/gpiochip0") => {}
        _ => sh.fail("lsmod does not show gpio-pl061 used by /dev/gpiochip0"),
    }
    // Another program cannot take the waiter's line.
    sh.run_expecting("gpio get 3", &["device or resource busy"]);

    // The power button: QEMU raises PL061 line 3. The top half wakes the waiter, the bottom
    // half logs from the work thread.
    sh.monitor("system_powerdown");
    sh.expect("line 3: rising edge at ", COMMAND_TIMEOUT);
    sh.run("echo waiter done");
    if !sh.log().contains("gpio-pl061: line 3: rising edge\n") {
        sh.fail("the bottom half did not log the edge");
    }

    // Level events. The power button's pulse is over (QEMU's gpio-key holds line 3 high for
    // 100 ms): the line is low, so waiting for low returns at once.
    let mut low = false;
    for _ in 0..20 {
        if sh.run("gpio get 3").ends_with("0\n") {
            low = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !low {
        sh.fail("line 3 did not go low after the power button's pulse");
    }
    sh.run_expecting("gpio wait 3 low", &["line 3: low level at "]);
    // Waiting for high arms the PL061's level sensing (GPIOIS, GPIOIEV); the pulse raises the
    // level interrupt, whose top half masks the line and wakes the waiter.
    sh.send_line("gpio wait 3 high &");
    sh.expect("waiting for line 3", COMMAND_TIMEOUT);
    sh.monitor("system_powerdown");
    sh.expect("line 3: high level at ", COMMAND_TIMEOUT);
    sh.run("echo level waiter done");
    if !sh.log().contains("gpio-pl061: line 3: high level\n") {
        sh.fail("the bottom half did not log the level");
    }
    // The fired detection was turned off; the next wait arms it again.
    sh.send_line("gpio wait 3 high &");
    sh.expect("waiting for line 3", COMMAND_TIMEOUT);
    sh.monitor("system_powerdown");
    sh.expect("line 3: high level at ", COMMAND_TIMEOUT);
    sh.run("echo second level waiter done");
    // Bad events are refused by the kernel before the driver sees them.
    sh.run_expecting(
        "gpio wait 3 sideways",
        &["gpio: 'sideways' is not rising, falling, both, high or low"],
    );

    // Ctrl-C ends a wait; the device is closed and the module no longer pinned.
    sh.send_line("gpio wait 4");
    sh.expect("waiting for line 4", COMMAND_TIMEOUT);
    sh.send(b"\x03");
    sh.expect("sh: gpio: killed", COMMAND_TIMEOUT);
    match lsmod_row(&sh.run("lsmod"), "gpio-pl061") {
        Some(row) if row.split_whitespace().nth(2) == Some("0") => {}
        _ => sh.fail("gpio-pl061 is still in use after the waiter was killed"),
    }

    // Idle again: unload and reload by hand.
    sh.run_expecting("rmmod gpio-pl061", &["/dev/gpiochip0 removed"]);
    sh.run_expecting(
        "gpio info",
        &["gpio: /dev/gpiochip0: no such file or directory"],
    );
    sh.run_expecting("modprobe gpio-pl061", &["dev: /dev/gpiochip0 registered"]);
    sh.run("gpio set 2 1");
    sh.run_expecting("gpio get 2", &["1\n"]);
    sh.run("gpio set 2 0");

    faulting_device(&mut sh);
    block_device(&mut sh);
    tty_device(&mut sh);
    sh.send_line("poweroff");
    sh.finish(Duration::from_secs(60)).assert_exit(0);
}

#[test]
fn gpio_bcm2711_on_raspi4b() {
    let mut sh = start(Machine::Raspi4b, "gpio");
    for needle in [
        "device tree: brcm,bcm2711-gpio -> gpio-bcm2711",
        "dev: /dev/gpiochip0 registered",
        "gpio-bcm2711: /soc/gpio@7e200000: 58 lines at 0xfe200000, bank interrupts [145, 146, 147]",
    ] {
        if !sh.log().contains(needle) {
            sh.fail(&format!("the boot log lacks {needle:?}"));
        }
    }
    if sh.log().contains("gpio-pl061 loaded") {
        sh.fail("gpio-pl061 was loaded on a board without a PL061");
    }
    sh.run_expecting(
        "insmod /lib/modules/gpio-pl061.ko",
        &["insmod: /lib/modules/gpio-pl061.ko: no such device"],
    );
    sh.run_expecting("gpio info", &["58 lines, driver gpio-bcm2711"]);

    // Function select, set, clear and level, in both register banks.
    for line in ["21", "42", "57"] {
        sh.run(&format!("gpio set {line} 1"));
        sh.run_expecting(&format!("gpio get {line}"), &["1\n"]);
        sh.run(&format!("gpio set {line} 0"));
        let out = sh.run(&format!("gpio get {line}"));
        if !out.ends_with("0\n") {
            sh.fail(&format!(
                "gpio get {line} after gpio set {line} 0 printed {out:?}"
            ));
        }
    }
    // Pulls go through GPIO_PUP_PDN_CNTRL; every code is accepted, bad ones are refused.
    for pull in ["up", "down", "none"] {
        let out = sh.run(&format!("gpio pull 22 {pull}"));
        if out.contains("gpio:") {
            sh.fail(&format!("gpio pull 22 {pull} failed: {out:?}"));
        }
    }
    sh.run("gpio mode 21 in");
    sh.run_expecting("gpio get 58", &["gpio: /dev/gpiochip0: invalid argument"]);

    // A waiter (QEMU raises no GPIO interrupts here) holds the device: rmmod is refused until
    // it is killed; then unload and reload.
    let out = sh.run("gpio wait 23 &");
    let Some(pid) = out
        .lines()
        .find_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
        .map(String::from)
    else {
        sh.fail(&format!("a background job did not print its pid: {out:?}"));
    };
    if !sh.log().contains("waiting for line 23") {
        sh.expect("waiting for line 23", COMMAND_TIMEOUT);
    }
    sh.run_expecting(
        "rmmod gpio-bcm2711",
        &["rmmod: gpio-bcm2711 is in use by /dev/gpiochip0 (pid"],
    );
    sh.run(&format!("kill {pid}"));
    let mut released = false;
    for _ in 0..20 {
        let lsmod = sh.run("lsmod");
        if lsmod_row(&lsmod, "gpio-bcm2711").is_some_and(|r| !r.contains("/dev/gpiochip0")) {
            released = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !released {
        sh.fail("killing the waiter did not close /dev/gpiochip0");
    }
    sh.run_expecting("rmmod gpio-bcm2711", &["/dev/gpiochip0 removed"]);
    sh.run_expecting("modprobe gpio-bcm2711", &["dev: /dev/gpiochip0 registered"]);
    sh.run("gpio set 21 1");
    sh.run_expecting("gpio get 21", &["1\n"]);

    // Level waits read the line first: a level it is at returns at once (the GPHEN/GPLEN
    // interrupts are not modelled, so only that case can run here).
    sh.run("gpio set 24 1");
    sh.run_expecting("gpio wait 24 high", &["line 24: high level at "]);
    sh.run("gpio set 24 0");
    sh.run_expecting("gpio wait 24 low", &["line 24: low level at "]);
    sh.run_expecting(
        "gpio wait 58 low",
        &["gpio: /dev/gpiochip0: invalid argument"],
    );

    faulting_device(&mut sh);
    block_device(&mut sh);
    sh.send_line("poweroff");
    sh.finish(Duration::from_secs(60)).assert_exit(0);
}

/// The block class through `ramdisk`: byte writes that are not whole blocks (read, changed and
/// written back by the kernel), reads at offsets, the end of the device, and unloading.
fn block_device(sh: &mut Session) {
    sh.run_expecting(
        "insmod /lib/modules/ramdisk.ko size_kib=4",
        &[
            "dev: /dev/ram0 registered",
            "ramdisk: 4 KiB in 8 blocks of 512 bytes",
        ],
    );
    sh.run_expecting("ls -l /dev", &["ram0"]);
    sh.run("echo hello block > /dev/ram0");
    sh.run_expecting(
        "hexdump -C -n 16 /dev/ram0",
        &["68 65 6c 6c 6f 20 62 6c  6f 63 6b 0a 00 00 00 00  |hello block.....|"],
    );
    // A write across a block boundary, at an offset.
    sh.run("echo boundary | dd of=/dev/ram0 bs=1 seek=508");
    sh.run_expecting("hexdump -C -s 506 -n 12 /dev/ram0", &["|..boundary..|"]);
    sh.run_expecting(
        "dd if=/dev/ram0 of=/tmp/disk bs=512",
        &["8+0 records in", "8+0 records out", "4096 bytes"],
    );
    sh.run_expecting(
        "dd if=/dev/zero of=/dev/ram0 bs=512 seek=8 count=1",
        &["dd: error writing '/dev/ram0': no space left on device"],
    );
    sh.run("rmmod ramdisk");
    sh.run_expecting("ls /dev", &["null"]);
    if sh.run("ls /dev").contains("ram0") {
        sh.fail("/dev/ram0 outlived its module");
    }
}

/// The tty class through `ttyloop`: bytes written come back as input, and a reader that
/// found nothing sleeps until the driver hands the kernel some.
fn tty_device(sh: &mut Session) {
    sh.run_expecting(
        "insmod /lib/modules/ttyloop.ko",
        &["dev: /dev/ttyloop0 registered"],
    );
    sh.run("echo looped > /dev/ttyloop0");
    sh.run_expecting(
        "dd if=/dev/ttyloop0 bs=7 count=1",
        &["looped\n", "1+0 records in"],
    );
    // A reader waits in the background; a write wakes it.
    sh.run("dd if=/dev/ttyloop0 of=/tmp/got bs=5 count=1 &");
    sh.run("echo ping > /dev/ttyloop0");
    let mut got = String::new();
    for _ in 0..20 {
        got = sh.run("cat /tmp/got");
        if got.contains("ping") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !got.contains("ping") {
        sh.fail(&format!("the sleeping reader of /dev/ttyloop0 got {got:?}"));
    }
    sh.run_expecting("rmmod ttyloop", &["/dev/ttyloop0 removed"]);
}

/// A driver whose device operation faults: its users get EIO, the module is marked failed, its
/// node goes, and after the last user closed it, rmmod frees it.
fn faulting_device(sh: &mut Session) {
    sh.run_expecting(
        "insmod /lib/modules/faulty.ko fault=device",
        &["dev: /dev/faulty0 registered"],
    );
    sh.run_expecting("gpio -c faulty0 info", &["1 lines, driver faulty"]);
    // Its driver declares no level detection: the kernel refuses a level wait itself.
    sh.run_expecting(
        "gpio -c faulty0 wait 0 high",
        &["gpio: /dev/faulty0: operation not supported"],
    );
    let out = sh.run("gpio -c faulty0 get 0");
    for needle in [
        "oops: module faulty faulted in",
        "gpio: /dev/faulty0: input/output error",
    ] {
        if !out.contains(needle) {
            sh.fail(&format!("a faulting device operation: no {needle:?}"));
        }
    }
    if !lsmod_row(&sh.run("lsmod"), "faulty").is_some_and(|r| r.ends_with("[failed]")) {
        sh.fail("lsmod does not show faulty as [failed]");
    }
    sh.run_expecting("gpio -c faulty0 info", &["no such file or directory"]);
    sh.run("rmmod faulty");
    if lsmod_row(&sh.run("lsmod"), "faulty").is_some() {
        sh.fail("rmmod did not free the failed faulty module");
    }
    sh.run_expecting("echo still alive", &["still alive"]);
}

#[test]
fn uart_pl011_on_virt() {
    uart_console(
        Machine::Virt,
        "uart-pl011: /pl011@9000000: PL011 at 0x9000000, interrupt 33, clock 24000000 Hz (device tree), 115200 baud, console",
    );
}

#[test]
fn uart_pl011_on_raspi4b() {
    uart_console(
        Machine::Raspi4b,
        // QEMU's firmware mailbox answers 3 MHz for the UART clock (48 MHz on hardware).
        "PL011 at 0xfe201000, interrupt 153, clock 3000000 Hz (firmware), 115200 baud, console",
    );
}

/// Types `command` and, right after it, `echo WORD` one byte at a time (30 ms apart): the
/// second line's bytes keep arriving while the first runs. WORD must then be echoed and
/// printed exactly once.
fn typed_ahead(sh: &mut Session, command: &str, word: &str) {
    sh.send(format!("{command}\r").as_bytes());
    for b in format!("echo {word}\r").bytes() {
        sh.send(&[b]);
    }
    sh.expect(&format!("\n{word}\n"), COMMAND_TIMEOUT);
    sh.expect(PROMPT, COMMAND_TIMEOUT);
    let seen = sh.log().matches(word).count();
    if seen != 2 {
        sh.fail(&format!(
            "{word:?} typed during `{command}` appeared {seen} times, not twice (echo and output)"
        ));
    }
}

/// The pid in `... (pid N)` of an rmmod refusal.
fn pid_in(text: &str) -> Option<u32> {
    let rest = &text[text.find("(pid ")? + 5..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `uart-pl011` loaded at boot by device matching owns the console: typing at the shell and its
/// output go through the driver's rings; stty shows and sets the line; rmmod is refused while
/// /dev/ttyAMA0 is open and hands the console back when idle; modprobe takes it again.
fn uart_console(machine: Machine, probe: &str) {
    let mut sh = start(machine, "uart");
    for needle in [
        // The Pi 4's tree lists the GPIO block (whose pins the driver routes) before the UART.
        if machine == Machine::Virt {
            "device tree: arm,pl011 -> uart-pl011"
        } else {
            "device tree: brcm,bcm2711-gpio -> uart-pl011"
        },
        "dev: /dev/ttyAMA0 registered",
        "console: console taken over by /dev/ttyAMA0 (uart-pl011)",
        probe,
    ] {
        if !sh.log().contains(needle) {
            sh.fail(&format!("the boot log lacks {needle:?}"));
        }
    }
    // Input and output through the driver.
    sh.run_expecting(
        "echo typed through the driver",
        &["typed through the driver\n"],
    );
    sh.run_expecting(
        "stty",
        &["speed 115200 baud; cs8 -parenb -parodd -cstopb; "],
    );
    sh.run_expecting(
        "stty -F ttyAMA0",
        &["speed 115200 baud; cs8 -parenb -parodd -cstopb; -echo -icanon -isig"],
    );
    // Line settings through the driver, and back.
    sh.run("stty -F /dev/ttyAMA0 9600 cs7 parenb cstopb");
    sh.run_expecting(
        "stty -F /dev/ttyAMA0",
        &["speed 9600 baud; cs7 parenb -parodd cstopb; -echo -icanon -isig"],
    );
    sh.run("stty 115200 cs8 -parenb -cstopb");
    sh.run_expecting(
        "stty",
        &["speed 115200 baud; cs8 -parenb -parodd -cstopb; "],
    );
    // Bad settings get an error code, never a fault.
    sh.run_expecting(
        "stty -F /dev/ttyAMA0 5000000",
        &["stty: /dev/ttyAMA0: invalid argument"],
    );
    // Above clock / 16 (1.5 Mbaud at 24 MHz, 187500 baud at 3 MHz): the driver refuses.
    sh.run_expecting(
        "stty -F /dev/ttyAMA0 2000000",
        &["stty: /dev/ttyAMA0: invalid argument"],
    );
    // A device tty has no line discipline: no local flags.
    sh.run_expecting(
        "stty -F /dev/ttyAMA0 echo",
        &["stty: /dev/ttyAMA0: invalid argument"],
    );
    sh.run_expecting("stty fast", &["stty: invalid argument 'fast'"]);
    // Long output: more than the transmit ring holds, every line in order.
    let out = sh.run("dmesg");
    for needle in [
        "Keel 0.1.0",
        "console taken over by /dev/ttyAMA0",
        "uart-pl011 loaded",
    ] {
        if !out.contains(needle) {
            sh.fail(&format!("dmesg through the driver lacks {needle:?}"));
        }
    }
    // More than the transmit ring holds: every line arrives, in order (the file's text holds
    // "# ", so the dump is read up to its last offset rather than to the next prompt).
    let size = std::fs::metadata(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../modules/rootfs/etc/inittab"
    ))
    .map(|m| m.len())
    .unwrap_or(0);
    sh.send_line("hexdump /etc/inittab");
    let out = sh.expect(&format!("\n{size:08x}\n"), COMMAND_TIMEOUT);
    let mut at = 0;
    for offset in (0..size).step_by(16) {
        let tag = format!("\n{offset:08x}  ");
        match out[at..].find(&tag) {
            Some(i) => at += i + tag.len(),
            None => sh.fail(&format!(
                "the hex dump lacks line {offset:08x}, or out of order"
            )),
        }
    }
    if out.len() < 4096 {
        sh.fail("hexdump printed less than the transmit ring holds");
    }
    sh.expect(PROMPT, COMMAND_TIMEOUT);

    // A reader holds /dev/ttyAMA0 open: rmmod is refused.
    sh.run("dd if=/dev/ttyAMA0 of=/tmp/uart bs=1 count=1 &");
    let refused = sh.run_expecting(
        "rmmod uart-pl011",
        &["rmmod: uart-pl011 is in use by /dev/ttyAMA0 (pid"],
    );
    let Some(pid) = pid_in(&refused) else {
        sh.fail("rmmod did not name the reader's pid");
    };
    sh.run(&format!("kill {pid}"));
    for _ in 0..20 {
        if lsmod_row(&sh.run("lsmod"), "uart-pl011")
            .is_some_and(|row| row.split_whitespace().nth(2) == Some("0"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Idle: unload hands the console back; typing goes on through the built-in driver.
    sh.run_expecting(
        "rmmod uart-pl011",
        &[
            "console back on the built-in driver",
            "/dev/ttyAMA0 removed",
        ],
    );
    sh.run_expecting("echo built-in again", &["built-in again\n"]);
    // Typed ahead while the driver takes the console (and below, while it hands it back): the
    // next line arrives whole, once.
    typed_ahead(&mut sh, "modprobe uart-pl011", "ahead-of-take-over");
    typed_ahead(&mut sh, "rmmod uart-pl011", "ahead-of-hand-back");
    sh.run_expecting("stty", &["speed 115200 baud"]);
    // Reload: the driver takes the console again.
    sh.run_expecting(
        "modprobe uart-pl011",
        &["console taken over by /dev/ttyAMA0 (uart-pl011)"],
    );
    sh.run_expecting("echo driver again", &["driver again\n"]);
    sh.run_expecting("dmesg", &["removed uart-pl011"]);

    // A console driver that panics in its transmit path is contained: the console falls back
    // to the built-in driver, says so, and typing goes on; rmmod frees the failed module.
    sh.run_expecting("rmmod uart-pl011", &["console back on the built-in driver"]);
    sh.run_expecting(
        "insmod /lib/modules/uart-pl011.ko panic_after=3000",
        &["console taken over by /dev/ttyAMA0 (uart-pl011)"],
    );
    sh.send_line("dmesg");
    sh.expect(
        "panic_after=3000: panicking in write as asked",
        COMMAND_TIMEOUT,
    );
    // The shell's next prompt may come before or after this line.
    sh.expect(
        "the console driver failed: the console is back on the built-in driver",
        COMMAND_TIMEOUT,
    );
    sh.run_expecting("echo contained", &["contained\n"]);
    match lsmod_row(&sh.run("lsmod"), "uart-pl011") {
        Some(row) if row.contains("failed") => {}
        row => sh.fail(&format!("lsmod does not show uart-pl011 failed: {row:?}")),
    }
    sh.run_expecting("rmmod uart-pl011", &["removed uart-pl011"]);
    sh.run_expecting(
        "modprobe uart-pl011",
        &["console taken over by /dev/ttyAMA0 (uart-pl011)"],
    );
    sh.run_expecting("echo back again", &["back again\n"]);
    sh.send_line("poweroff");
    sh.finish(Duration::from_secs(60)).assert_exit(0);
}
