//! Running one QEMU boot with its serial output captured and a wall-clock timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::outcome::Outcome;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-aarch64";
/// How long a boot may take before QEMU is killed and the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The QEMU machines Keel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// `-M virt` with four Cortex-A72 and 1 GiB.
    Virt,
    /// `-M raspi4b` (2 GiB; QEMU tells the kernel 960 MiB through the device tree).
    Raspi4b,
}

/// A QEMU boot to run, built step by step.
#[derive(Clone, Debug)]
pub struct Qemu {
    machine: Machine,
    kernel: PathBuf,
    dtb: Option<PathBuf>,
    initrd: Option<PathBuf>,
    sd_image: Option<PathBuf>,
    sd_writable: bool,
    append: Option<String>,
    semihosting: bool,
    interactive: bool,
    monitor: Option<PathBuf>,
    cpus: u32,
    deterministic: bool,
    extra: Vec<String>,
    timeout: Duration,
}

impl Qemu {
    /// Boots the raw image `kernel` on `machine`, without semihosting, with the default timeout.
    pub fn new(machine: Machine, kernel: impl Into<PathBuf>) -> Qemu {
        Qemu {
            machine,
            kernel: kernel.into(),
            dtb: None,
            initrd: None,
            sd_image: None,
            sd_writable: false,
            append: None,
            semihosting: false,
            interactive: false,
            monitor: None,
            cpus: 4,
            deterministic: false,
            extra: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Passes a device tree (`-dtb`).
    pub fn dtb(mut self, dtb: impl Into<PathBuf>) -> Qemu {
        self.dtb = Some(dtb.into());
        self
    }

    /// Passes an initramfs (`-initrd`): QEMU loads it into memory and records where in the device
    /// tree's `/chosen` (`linux,initrd-start`, `linux,initrd-end`).
    pub fn initrd(mut self, initramfs: impl Into<PathBuf>) -> Qemu {
        self.initrd = Some(initramfs.into());
        self
    }

    /// Attaches an SD card image: in the slot of `raspi4b`, on an `sdhci-pci` host on `virt`. QEMU
    /// opens it in snapshot mode: the guest may write, the file stays as it is, and boots running
    /// in parallel can share it.
    pub fn sd_image(mut self, image: impl Into<PathBuf>) -> Qemu {
        self.sd_image = Some(image.into());
        self
    }

    /// Attaches an SD card image that the guest's writes reach (no snapshot): for tests that
    /// compare the file after power-off. The file must not be shared with another boot.
    pub fn sd_image_writable(mut self, image: impl Into<PathBuf>) -> Qemu {
        self.sd_image = Some(image.into());
        self.sd_writable = true;
        self
    }

    /// Boots without an SD card image (an empty slot on `raspi4b`).
    pub fn no_sd_image(mut self) -> Qemu {
        self.sd_image = None;
        self
    }

    /// Sets the kernel command line (`-append`, the device tree's `/chosen/bootargs`).
    pub fn append(mut self, bootargs: impl Into<String>) -> Qemu {
        self.append = Some(bootargs.into());
        self
    }

    /// Turns semihosting on or off; only test kernels use it.
    pub fn semihosting(mut self, on: bool) -> Qemu {
        self.semihosting = on;
        self
    }

    /// For a person at a terminal (`cargo xtask run`): the serial console and the monitor share the
    /// terminal (`-serial mon:stdio`) and the SD image is opened for writing, not as a snapshot.
    pub fn interactive(mut self) -> Qemu {
        self.interactive = true;
        self
    }

    /// Puts QEMU's monitor on a Unix socket at `path` (instead of no monitor), so a test can
    /// send it commands such as `system_powerdown` (see [`crate::Session::monitor`]).
    pub fn monitor_socket(mut self, path: impl Into<PathBuf>) -> Qemu {
        self.monitor = Some(path.into());
        self
    }

    /// The monitor socket, if [`Qemu::monitor_socket`] set one.
    pub fn monitor_path(&self) -> Option<&Path> {
        self.monitor.as_deref()
    }

    /// Sets the number of cores of `virt` (default 4); `raspi4b` always has four.
    pub fn cpus(mut self, cpus: u32) -> Qemu {
        self.cpus = cpus;
        self
    }

    /// Makes the boot deterministic: one guest instruction is one nanosecond of virtual time
    /// (`-icount shift=0,sleep=off`; idle time is skipped, not slept), and no host clock reaches
    /// the guest (the real-time clock starts at 2000-01-01 and runs on virtual time). With the
    /// machines' other host inputs always off (the device tree's random seeds, the network),
    /// every run of the same images executes the same instructions at the same virtual times.
    pub fn deterministic(mut self, on: bool) -> Qemu {
        self.deterministic = on;
        self
    }

    /// Appends more QEMU arguments, last.
    pub fn extra(mut self, args: impl IntoIterator<Item = String>) -> Qemu {
        self.extra.extend(args);
        self
    }

    /// Sets the wall-clock time after which QEMU is killed.
    pub fn timeout(mut self, timeout: Duration) -> Qemu {
        self.timeout = timeout;
        self
    }

    /// QEMU's arguments, without the program name.
    pub fn args(&self) -> Vec<String> {
        let cpus = self.cpus.to_string();
        let mut args: Vec<String> = match self.machine {
            Machine::Virt => vec![
                "-M",
                "virt,dtb-randomness=off",
                "-cpu",
                "cortex-a72",
                "-smp",
                &cpus,
                "-m",
                "1G",
                "-nic",
                "none",
            ],
            Machine::Raspi4b => vec!["-M", "raspi4b", "-m", "2G"],
        }
        .into_iter()
        .map(String::from)
        .collect();
        if self.deterministic {
            args.extend(
                [
                    "-icount",
                    "shift=0,sleep=off",
                    "-rtc",
                    "base=2000-01-01T00:00:00,clock=vm",
                ]
                .map(String::from),
            );
        }
        let path = |p: &Path| p.display().to_string();
        args.extend(["-kernel".to_string(), path(&self.kernel)]);
        if let Some(dtb) = &self.dtb {
            args.extend(["-dtb".to_string(), path(dtb)]);
        }
        if let Some(initrd) = &self.initrd {
            args.extend(["-initrd".to_string(), path(initrd)]);
        }
        if let Some(image) = &self.sd_image {
            let snapshot = if self.interactive || self.sd_writable {
                ""
            } else {
                "snapshot=on,"
            };
            match self.machine {
                // The board's own SD slot.
                Machine::Raspi4b => {
                    args.push("-drive".to_string());
                    args.push(format!("if=sd,format=raw,{snapshot}file={}", path(image)));
                }
                // `virt` has no SD slot: a card on an `sdhci-pci` host.
                Machine::Virt => {
                    args.extend(
                        [
                            "-device",
                            "sdhci-pci",
                            "-device",
                            "sd-card,drive=sd0",
                            "-drive",
                        ]
                        .map(String::from),
                    );
                    args.push(format!(
                        "if=none,id=sd0,format=raw,{snapshot}file={}",
                        path(image)
                    ));
                }
            }
        }
        if self.interactive {
            args.extend(["-serial", "mon:stdio", "-display", "none"].map(String::from));
        } else {
            let monitor = match &self.monitor {
                Some(socket) => format!("unix:{},server=on,wait=off", path(socket)),
                None => "none".to_string(),
            };
            args.extend(["-serial", "stdio", "-monitor"].map(String::from));
            args.push(monitor);
            args.extend(["-display", "none"].map(String::from));
        }
        if self.semihosting {
            args.push("-semihosting".to_string());
        }
        if let Some(append) = &self.append {
            args.extend(["-append".to_string(), append.clone()]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        let mut line = QEMU.to_string();
        for arg in self.args() {
            line.push(' ');
            if arg.contains(' ') {
                line.push_str(&format!("'{arg}'"));
            } else {
                line.push_str(&arg);
            }
        }
        line
    }

    /// Boots and waits for QEMU to exit or the timeout to pass.
    pub fn run(&self) -> Outcome {
        let mut command = Command::new(QEMU);
        command.args(self.args());
        run_captured(command, self.timeout, self.command_line())
    }
}

/// Reads all of `stream` on a thread of its own.
fn collect(stream: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            // A read error only ends the capture early; what was read is kept.
            let _ = stream.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` until `deadline`; kills it then. Returns its status and whether it timed out.
fn wait_until(child: &mut Child, deadline: Instant) -> (Option<i32>, bool) {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.code(), false),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                // Killing fails only if the child has just exited; either way it is reaped below.
                let _ = child.kill();
                let _ = child.wait();
                return (None, true);
            }
        }
    }
}

/// Runs `command` with stdin closed and stdout/stderr captured, killing it after `timeout`.
pub fn run_captured(mut command: Command, timeout: Duration, command_line: String) -> Outcome {
    let started = Instant::now();
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "could not start `{command_line}`: {e}\n\
             (install QEMU 9.0 or newer: `sudo cargo xtask setup`)"
        ),
    };
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let (status, timed_out) = wait_until(&mut child, started + timeout);
    let text = |handle: thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&handle.join().unwrap_or_default()).into_owned()
    };
    Outcome {
        status,
        output: text(stdout),
        timed_out,
        stderr: text(stderr),
        command: command_line,
        elapsed: started.elapsed(),
        timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virt_boots_four_a72s_with_serial_on_stdout() {
        let qemu = Qemu::new(Machine::Virt, "dist/virt/test/kernel8.img")
            .semihosting(true)
            .append("keel.test=fault");
        assert_eq!(
            qemu.command_line(),
            "qemu-system-aarch64 -M virt,dtb-randomness=off -cpu cortex-a72 -smp 4 -m 1G \
             -nic none -kernel dist/virt/test/kernel8.img -serial stdio -monitor none \
             -display none -semihosting -append keel.test=fault"
        );
    }

    #[test]
    fn raspi4b_gets_its_device_tree_and_a_snapshot_of_the_sd_card() {
        let args = Qemu::new(Machine::Raspi4b, "k.img")
            .dtb("b.dtb")
            .initrd("initramfs.cpio")
            .sd_image("sd.img")
            .append("keel.halt=poweroff")
            .args();
        let joined = args.join(" ");
        assert!(joined.starts_with(
            "-M raspi4b -m 2G -kernel k.img -dtb b.dtb -initrd initramfs.cpio -drive"
        ));
        assert!(joined.contains("-drive if=sd,format=raw,snapshot=on,file=sd.img"));
        assert!(!args.contains(&"-semihosting".to_string()));
        assert_eq!(args[args.len() - 2..], ["-append", "keel.halt=poweroff"]);
    }

    #[test]
    fn virt_gets_its_sd_card_on_an_sdhci_pci_host() {
        let args = Qemu::new(Machine::Virt, "k.img")
            .sd_image("sd.img")
            .args()
            .join(" ");
        assert!(args.contains(
            "-device sdhci-pci -device sd-card,drive=sd0 \
             -drive if=none,id=sd0,format=raw,snapshot=on,file=sd.img"
        ));
        assert!(!args.contains("if=sd,"), "virt has no SD slot");
    }

    #[test]
    fn a_monitor_socket_replaces_no_monitor() {
        let args = Qemu::new(Machine::Virt, "k.img")
            .monitor_socket("/tmp/m.sock")
            .args()
            .join(" ");
        assert!(args.contains("-monitor unix:/tmp/m.sock,server=on,wait=off"));
        assert!(!args.contains("-monitor none"));
    }

    #[test]
    fn a_deterministic_boot_counts_instructions_on_the_cores_asked_for() {
        let args = Qemu::new(Machine::Virt, "k.img")
            .cpus(1)
            .deterministic(true)
            .args()
            .join(" ");
        assert!(args.starts_with(
            "-M virt,dtb-randomness=off -cpu cortex-a72 -smp 1 -m 1G -nic none \
             -icount shift=0,sleep=off -rtc base=2000-01-01T00:00:00,clock=vm -kernel k.img"
        ));
        let raspi = Qemu::new(Machine::Raspi4b, "k.img")
            .cpus(1)
            .args()
            .join(" ");
        assert!(!raspi.contains("-smp") && !raspi.contains("-icount"));
    }

    #[test]
    fn output_and_status_are_captured() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo serial; echo oops >&2; exit 3"]);
        let outcome = run_captured(command, Duration::from_secs(30), "sh".into());
        assert_eq!(outcome.status, Some(3));
        assert!(!outcome.timed_out);
        assert_eq!(outcome.output, "serial\n");
        assert_eq!(outcome.stderr, "oops\n");
    }

    #[test]
    fn a_hanging_program_is_killed_at_the_timeout() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; exec sleep 30"]);
        let outcome = run_captured(command, Duration::from_millis(300), "sh".into());
        assert!(outcome.timed_out);
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.output, "started\n");
        assert!(outcome.elapsed < Duration::from_secs(10));
    }
}
