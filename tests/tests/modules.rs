//! Loadable kernel modules on QEMU `virt` and `raspi4b`: the in-kernel module tests with the real
//! `.ko` files from the initramfs, and the whole `insmod`/`lsmod`/`modinfo`/`rmmod`/`modprobe`
//! demo typed into the shell, including modules that fail, fault and panic, ending with
//! `poweroff`.

use std::time::Duration;

use keel_abi::test_exit;
use keel_tests::{dist, Kernel, Machine, Qemu, Session};

/// The lsmod row of `name`, if listed.
fn lsmod_row<'a>(lsmod: &'a str, name: &str) -> Option<&'a str> {
    lsmod
        .lines()
        .map(str::trim_end)
        .find(|line| line.split_whitespace().next() == Some(name))
}

/// `kernel` on `machine`, booted as every test boots it, with the board's initramfs.
fn with_modules(machine: Machine, kernel: Kernel) -> Qemu {
    keel_tests::boot(machine, kernel).initrd(dist::initramfs(machine))
}

#[test]
fn in_kernel_module_tests_pass_with_the_real_modules_on_virt() {
    in_kernel_module_tests(Machine::Virt);
}

#[test]
fn in_kernel_module_tests_pass_with_the_real_modules_on_raspi4b() {
    in_kernel_module_tests(Machine::Raspi4b);
}

#[test]
fn the_module_demo_runs_in_the_shell_on_virt() {
    module_demo(Machine::Virt);
}

#[test]
fn the_module_demo_runs_in_the_shell_on_raspi4b() {
    module_demo(Machine::Raspi4b);
}

fn in_kernel_module_tests(machine: Machine) {
    let run = with_modules(machine, Kernel::Test).run();
    run.assert_exit(test_exit::PASS);
    for test in [
        "module_params_split ... ok",
        "module_modalias ... ok",
        "module_malformed ... ok",
        "module_lifecycle ... ok",
        "module_exports ... ok",
        "module_exports_resolve ... ok",
        "device_pins_module ... ok",
        "irq_shared_modules ... ok",
    ] {
        run.assert_output_contains(test);
    }
    // The module files were there: the tests ran rather than skipped.
    run.assert_output_contains("wrong ABI: refused: hello.ko: built for ABI 2");
    if run.output.contains("module file tests skipped") {
        run.fail("the module tests were skipped although the initramfs was given");
    }
}

fn module_demo(machine: Machine) {
    let qemu = with_modules(machine, Kernel::Normal);
    let mut sh = Session::start(&qemu);
    sh.wait_for_shell();
    if !sh
        .log()
        .contains("module: hello loaded from /lib/modules/hello.ko")
    {
        sh.fail("/etc/modules did not load hello at boot");
    }

    // hello from /etc/modules, then again with parameters.
    let lsmod = sh.run("lsmod");
    if !lsmod.contains("Module                  Size  Used by")
        || lsmod_row(&lsmod, "hello").is_none()
    {
        sh.fail("lsmod does not list hello in Linux's layout");
    }
    if !sh.run("rmmod hello").contains("hello: goodbye") {
        sh.fail("rmmod hello did not run its exit");
    }
    let out = sh.run("insmod /lib/modules/hello.ko greeting=hi count=3");
    for line in ["hello: hi (1/3)", "hello: hi (3/3)"] {
        if !out.contains(line) {
            sh.fail(&format!("insmod with parameters did not log {line:?}"));
        }
    }
    let lsmod = sh.run("lsmod");
    match lsmod_row(&lsmod, "hello").map(|r| r.split_whitespace().collect::<Vec<_>>()) {
        Some(row)
            if row.len() == 3 && row[1].parse::<u64>().is_ok_and(|s| s > 0) && row[2] == "0" => {}
        _ => sh.fail("lsmod's hello row is not `hello SIZE 0`"),
    }
    let modinfo = sh.run("modinfo /lib/modules/hello.ko");
    for field in [
        "filename: /lib/modules/hello.ko",
        "name: hello",
        "version: 1.0.0",
        "license: MIT OR Apache-2.0",
        "description: Says hello",
        "author: Keel",
        "depends:",
        "parm: greeting:str:hello:what to say",
        "parm: count:u32:1:how many times",
    ] {
        if !modinfo.contains(field) {
            sh.fail(&format!("modinfo lacks {field:?}"));
        }
    }
    let out = sh.run("insmod /lib/modules/hello.ko");
    if !out.contains("insmod: /lib/modules/hello.ko: already loaded") {
        sh.fail("a second insmod of hello was not refused as already loaded");
    }
    sh.run("rmmod hello");
    if !sh
        .run("rmmod hello")
        .contains("rmmod: hello: module not loaded")
    {
        sh.fail("rmmod of an unloaded module did not say so");
    }

    // Dependencies: modprobe loads mathcore first; mathcore is pinned while mathuser is loaded.
    let out = sh.run("modprobe mathuser");
    match (
        out.find("mathcore: ready"),
        out.find("mathuser: gcd(84, 36) = 12"),
    ) {
        (Some(core), Some(user)) if core < user => {}
        _ => sh.fail("modprobe mathuser did not load mathcore, then mathuser"),
    }
    let lsmod = sh.run("lsmod");
    if !lsmod_row(&lsmod, "mathcore").is_some_and(|r| r.ends_with(" 1 mathuser")) {
        sh.fail("lsmod does not show mathcore used by mathuser");
    }
    if !sh
        .run("rmmod mathcore")
        .contains("rmmod: mathcore is in use by mathuser")
    {
        sh.fail("rmmod mathcore was not refused naming mathuser");
    }
    sh.run("modprobe -r mathuser");
    let lsmod = sh.run("lsmod");
    if lsmod_row(&lsmod, "mathuser").is_some() || lsmod_row(&lsmod, "mathcore").is_some() {
        sh.fail("modprobe -r mathuser did not remove both modules");
    }

    // Failures: init error, fault in init, panic in init, fault in exit.
    let out = sh.run("insmod /lib/modules/failinit.ko");
    if !out.contains("insmod: /lib/modules/failinit.ko: no such device")
        || lsmod_row(&sh.run("lsmod"), "failinit").is_some()
    {
        sh.fail("failinit's init error was not reported, or it stayed loaded");
    }
    let out = sh.run("insmod /lib/modules/faulty.ko fault=init");
    for needle in [
        "oops: module faulty faulted in faulty::",
        "translation fault",
        "insmod: /lib/modules/faulty.ko: module failed",
    ] {
        if !out.contains(needle) {
            sh.fail(&format!("insmod faulty fault=init: no {needle:?}"));
        }
    }
    if !lsmod_row(&sh.run("lsmod"), "faulty").is_some_and(|r| r.ends_with("[failed]")) {
        sh.fail("lsmod does not show faulty as [failed]");
    }
    if !sh.run("echo still alive").contains("still alive") {
        sh.fail("the shell does not work after a module fault");
    }
    sh.run("rmmod faulty");
    let out = sh.run("insmod /lib/modules/faulty.ko fault=panic");
    if !out.contains("module faulty panicked: ") || !out.contains("module failed") {
        sh.fail("a module panic was not reported");
    }
    sh.run("rmmod faulty");
    sh.run("insmod /lib/modules/faulty.ko fault=exit");
    let out = sh.run("rmmod faulty");
    if !out.contains("oops: module faulty faulted in")
        || !out.contains("rmmod: faulty: module failed")
    {
        sh.fail("a fault in exit was not reported");
    }
    sh.run("rmmod faulty");
    let lsmod = sh.run("lsmod");
    // Driver modules the device tree called for stay; the demo's modules are all gone.
    for name in ["hello", "mathcore", "mathuser", "failinit", "faulty"] {
        if lsmod_row(&lsmod, name).is_some() {
            sh.fail(&format!("{name} is left after the demo"));
        }
    }

    sh.send_line("poweroff");
    sh.finish(Duration::from_secs(60)).assert_exit(0);
}
