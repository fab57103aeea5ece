//! The scheduler: per-CPU run queues with priorities, preemptive time slices, blocking and wake-up,
//! idle in WFI, and load balancing between cores.
//!
//! Each core owns a [`PerCpu`] (found through `TPIDR_EL1`) with a run queue of ready threads, one
//! FIFO per priority (0 most urgent). A thread runs until it blocks, yields, or its time slice ends:
//! the timer tick then asks for a reschedule, which happens on the way back to user space (the
//! kernel itself is not preempted; kernel threads yield or block). A woken thread goes back to the
//! core it last ran on unless that core is busier than the least busy one; an idle core steals work
//! from the busiest. A core that enqueues work for another sends it a reschedule SGI.
//!
//! The switch protocol: a thread that is being switched out still has `on_cpu` set until the next
//! thread, on the new stack, finishes the switch; a core that picks a thread still `on_cpu`
//! elsewhere waits for that flag to drop, so a thread never runs on two cores at once.

pub mod thread;
mod wait;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

pub use thread::{State, Thread, PRIORITIES, PRIO_USER};
pub use wait::WaitQueue;

use crate::arch;
use crate::sync::{irq_restore, irq_save, IrqMutex};

core::arch::global_asm!(include_str!("switch.s"));

extern "C" {
    fn context_switch(prev: *mut thread::Context, next: *const thread::Context);
    fn context_load(next: *const thread::Context) -> !;
    fn fp_save(state: *mut thread::FpState);
    fn fp_restore(state: *const thread::FpState);
}

/// Most cores Keel drives.
pub const MAX_CPUS: usize = 8;
/// Ticks in a time slice.
const SLICE_TICKS: u32 = 1;
/// The SGI that asks a core to look at its run queue.
pub const SGI_RESCHEDULE: u32 = 1;

/// Threads each FIFO of a run queue has room for from the start.
const RUNQUEUE_RESERVE: usize = 16;

/// A run queue: one FIFO per priority.
struct RunQueue {
    queues: [VecDeque<Arc<Thread>>; PRIORITIES],
    len: usize,
}

impl RunQueue {
    const fn new() -> RunQueue {
        RunQueue {
            queues: [const { VecDeque::new() }; PRIORITIES],
            len: 0,
        }
    }

    /// Gives every FIFO room for `n` threads up front, so an ordinary queue never allocates
    /// while the scheduler runs (and leak checks do not see a queue's first growth).
    fn reserve(&mut self, n: usize) {
        for q in &mut self.queues {
            q.reserve(n);
        }
    }

    fn push(&mut self, t: Arc<Thread>) {
        let p = (t.priority as usize).min(PRIORITIES - 1);
        self.queues[p].push_back(t);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Arc<Thread>> {
        let t = self.queues.iter_mut().find_map(|q| q.pop_front())?;
        self.len -= 1;
        Some(t)
    }

    /// Takes the least urgent thread from the back (the one that waits longest for this core).
    fn steal(&mut self) -> Option<Arc<Thread>> {
        let t = self.queues.iter_mut().rev().find_map(|q| q.pop_back())?;
        self.len -= 1;
        Some(t)
    }

    fn best_priority(&self) -> Option<u8> {
        self.queues
            .iter()
            .position(|q| !q.is_empty())
            .map(|p| p as u8)
    }
}

/// What each core keeps for itself.
pub struct PerCpu {
    /// Logical number (0 = the boot core).
    pub index: usize,
    /// MPIDR affinity value.
    pub mpidr: AtomicU64,
    /// Whether the core has come up.
    pub online: AtomicBool,
    /// The GIC CPU-interface mask that targets this core with an SGI.
    pub gic_mask: AtomicU32,
    runqueue: IrqMutex<RunQueue>,
    need_resched: AtomicBool,
    slice_left: AtomicU32,
    /// Length of the run queue, readable without the lock (for balancing).
    queued: AtomicUsize,
    /// Whether the core runs its idle thread.
    idle_now: AtomicBool,
    current: UnsafeCell<Option<Arc<Thread>>>,
    idle: UnsafeCell<Option<Arc<Thread>>>,
    /// The thread switched away from, released by the next thread once the switch is complete.
    prev: UnsafeCell<Option<Arc<Thread>>>,
    /// Context switches on this core.
    pub switches: AtomicU64,
    /// Deadline of the next tick (counter value).
    pub next_tick: AtomicU64,
    /// The thread (by id; 0 for none) whose FP/SIMD state the registers of this core hold.
    fp_owner: AtomicU64,
    /// Whether EL0 may use FP/SIMD now (`CPACR_EL1.FPEN`), i.e. the running thread's state is
    /// loaded and may have changed since it was last saved.
    fp_live: AtomicBool,
}

// SAFETY: the UnsafeCell fields are only touched by the owning core with interrupts masked.
unsafe impl Sync for PerCpu {}

impl PerCpu {
    const fn new(index: usize) -> PerCpu {
        PerCpu {
            index,
            mpidr: AtomicU64::new(u64::MAX),
            online: AtomicBool::new(false),
            gic_mask: AtomicU32::new(0),
            runqueue: IrqMutex::new(RunQueue::new()),
            need_resched: AtomicBool::new(false),
            slice_left: AtomicU32::new(SLICE_TICKS),
            queued: AtomicUsize::new(0),
            idle_now: AtomicBool::new(false),
            current: UnsafeCell::new(None),
            idle: UnsafeCell::new(None),
            prev: UnsafeCell::new(None),
            switches: AtomicU64::new(0),
            next_tick: AtomicU64::new(0),
            fp_owner: AtomicU64::new(0),
            fp_live: AtomicBool::new(false),
        }
    }
}

static CPUS: [PerCpu; MAX_CPUS] = [
    PerCpu::new(0),
    PerCpu::new(1),
    PerCpu::new(2),
    PerCpu::new(3),
    PerCpu::new(4),
    PerCpu::new(5),
    PerCpu::new(6),
    PerCpu::new(7),
];
/// Number of cores brought up.
static ONLINE: AtomicUsize = AtomicUsize::new(0);

/// The per-CPU data of the core running this code.
#[inline]
pub fn this_cpu() -> &'static PerCpu {
    let p: u64;
    // SAFETY: reading TPIDR_EL1, which `enter_cpu` set to this core's PerCpu.
    unsafe { core::arch::asm!("mrs {}, tpidr_el1", out(reg) p, options(nomem, nostack)) };
    // SAFETY: every core calls `enter_cpu` first thing in its Rust entry (TPIDR_EL1's reset value
    // is unknown), so TPIDR_EL1 points at an element of the static CPUS array.
    unsafe { &*(p as *const PerCpu) }
}

/// Points TPIDR_EL1, which [`this_cpu`] reads, at the per-CPU data of logical core `index`: the
/// first thing each core's Rust entry does.
pub fn enter_cpu(index: usize) {
    let cpu = &CPUS[index];
    // SAFETY: TPIDR_EL1 is the kernel's per-CPU pointer; nothing else uses it.
    unsafe {
        core::arch::asm!("msr tpidr_el1, {}", in(reg) cpu as *const PerCpu as u64, options(nostack))
    };
}

/// Every core's data, for statistics.
pub fn cpus() -> impl Iterator<Item = &'static PerCpu> {
    CPUS.iter().filter(|c| c.online.load(Ordering::Acquire))
}

/// Number of online cores.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// The per-CPU data of logical core `index`.
pub fn cpu(index: usize) -> Option<&'static PerCpu> {
    CPUS.get(index)
}

/// Runs `f` on the running thread without taking a reference to it, with interrupts masked
/// meanwhile (so nothing can switch threads under it); `f` must not block or switch. Cheaper than
/// [`current`] on the system call path.
pub fn with_current<R>(f: impl FnOnce(&Arc<Thread>) -> R) -> R {
    let daif = irq_save();
    // SAFETY: only this core touches its `current`, with interrupts masked, and it stays in place
    // until they are unmasked again, after `f` returned.
    let t = unsafe { (*this_cpu().current.get()).as_ref() };
    let r = f(t.expect("the scheduler is initialised before anything asks for the current thread"));
    irq_restore(daif);
    r
}

/// The running thread, borrowed without a reference count and without masking interrupts: for
/// the system call path, which runs with them masked.
///
/// # Safety
/// Interrupts must be masked while the reference is used, and the caller must stop using it
/// before the thread blocks or switches.
#[inline]
pub unsafe fn current_masked<'a>() -> &'a Arc<Thread> {
    // SAFETY: only this core touches its `current`, and with interrupts masked (the caller's
    // promise) it stays in place until the thread switches, which ends the borrow.
    unsafe { (*this_cpu().current.get()).as_ref() }
        .expect("the scheduler is initialised before anything asks for the current thread")
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    let daif = irq_save();
    // SAFETY: only this core touches its `current`, with interrupts masked.
    let t = unsafe { (*this_cpu().current.get()).clone() };
    irq_restore(daif);
    t.expect("the scheduler is initialised before anything asks for the current thread")
}

/// Sets up the calling core's scheduler state and makes the code running now its idle thread.
///
/// `stack` is the kernel stack it runs on (`None` for the boot stack in the image).
pub fn init_cpu(index: usize, stack: Option<thread::KernelStack>) {
    enter_cpu(index);
    let cpu = &CPUS[index];
    // FP/SIMD for EL1 never traps (the kernel, built soft-float, touches these registers only to
    // save and load user state); EL0 traps until a thread's state is loaded (see `fp_trap`).
    // SAFETY: changes trapping only.
    unsafe { core::arch::asm!("msr cpacr_el1, {}", "isb", in(reg) 1u64 << 20, options(nostack)) };
    cpu.fp_live.store(false, Ordering::Relaxed);
    cpu.mpidr.store(arch::mpidr(), Ordering::Relaxed);
    let name = alloc::format!("idle/{index}");
    let idle = Arc::new(Thread::adopt_current(&name, stack));
    idle.cpu.store(index, Ordering::Relaxed);
    idle.switched_in.store(arch::counter(), Ordering::Relaxed);
    // SAFETY: this core's own fields, before it takes interrupts.
    unsafe {
        *cpu.current.get() = Some(idle.clone());
        *cpu.idle.get() = Some(idle);
    }
    crate::proc::aspace::init_cpu();
    cpu.runqueue.lock().reserve(RUNQUEUE_RESERVE);
    cpu.online.store(true, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// Puts a ready thread on a run queue, choosing the core, and pokes that core.
fn enqueue(t: Arc<Thread>) {
    let last = t.cpu.load(Ordering::Relaxed);
    let here = this_cpu().index;
    let mut target = if CPUS[last].online.load(Ordering::Acquire) {
        last
    } else {
        here
    };
    // Balance: go to the least loaded core (an idle one first) when the usual one is busier.
    let load = |c: &PerCpu| {
        c.queued.load(Ordering::Relaxed) * 2 + usize::from(!c.idle_now.load(Ordering::Relaxed))
    };
    let best = cpus().min_by_key(|c| load(c)).map_or(target, |c| c.index);
    if load(&CPUS[best]) + 2 <= load(&CPUS[target]) {
        target = best;
    }
    let cpu = &CPUS[target];
    let prio = t.priority;
    {
        let mut rq = cpu.runqueue.lock();
        rq.push(t);
        cpu.queued.store(rq.len, Ordering::Relaxed);
    }
    let preempt = cpu.idle_now.load(Ordering::Relaxed) || {
        // SAFETY: reading another core's current pointer only for its priority is racy but
        // harmless: the worst case is an unnecessary or a missed early reschedule.
        prio < current_priority(cpu)
    };
    if preempt {
        cpu.need_resched.store(true, Ordering::Release);
        if target != here {
            crate::irq::send_sgi(SGI_RESCHEDULE, cpu.gic_mask.load(Ordering::Relaxed));
        }
    }
}

fn current_priority(cpu: &PerCpu) -> u8 {
    if core::ptr::eq(cpu, this_cpu()) {
        // SAFETY: our own field with the queue lock released; read only.
        unsafe {
            (*cpu.current.get())
                .as_ref()
                .map_or(thread::PRIO_IDLE, |t| t.priority)
        }
    } else {
        thread::PRIO_USER
    }
}

/// Makes a new thread runnable.
pub fn start(t: &Arc<Thread>) {
    t.cpu.store(this_cpu().index, Ordering::Relaxed);
    t.set_state(State::Ready);
    enqueue(t.clone());
}

/// Wakes a blocked thread; does nothing for a thread that is not blocked.
pub fn wake(t: &Arc<Thread>) {
    if t.transition(State::Blocked, State::Ready) {
        enqueue(t.clone());
    }
}

/// Whether this core should reschedule before returning to user space.
pub fn need_resched() -> bool {
    this_cpu().need_resched.load(Ordering::Acquire)
}

/// Called by the timer tick on every core.
pub fn tick() {
    let cpu = this_cpu();
    if cpu.idle_now.load(Ordering::Relaxed) {
        if cpu.queued.load(Ordering::Relaxed) > 0 {
            cpu.need_resched.store(true, Ordering::Release);
        }
        return;
    }
    let left = cpu.slice_left.load(Ordering::Relaxed);
    if left <= 1 {
        cpu.slice_left.store(SLICE_TICKS, Ordering::Relaxed);
        cpu.need_resched.store(true, Ordering::Release);
    } else {
        cpu.slice_left.store(left - 1, Ordering::Relaxed);
    }
}

/// Gives up the CPU to the next ready thread (the caller stays ready).
pub fn yield_now() {
    this_cpu().need_resched.store(true, Ordering::Release);
    schedule();
}

/// Picks the next thread for this core and switches to it.
pub fn schedule() {
    let daif = irq_save();
    let cpu = this_cpu();
    cpu.need_resched.store(false, Ordering::Relaxed);
    // SAFETY: this core's own fields, interrupts masked.
    let prev = unsafe { (*cpu.current.get()).clone() }.expect("a current thread");
    // SAFETY: as above.
    let idle = unsafe { (*cpu.idle.get()).clone() }.expect("an idle thread");
    let is_idle = Arc::ptr_eq(&prev, &idle);

    let next = {
        let mut rq = cpu.runqueue.lock();
        let still_runnable = prev.state() == State::Running && !is_idle;
        // A runnable thread keeps the CPU unless someone of equal or better priority waits.
        let keep = still_runnable && rq.best_priority().is_none_or(|best| best > prev.priority);
        if keep {
            None
        } else {
            let next = rq.pop();
            if still_runnable {
                prev.set_state(State::Ready);
                rq.push(prev.clone());
            }
            cpu.queued.store(rq.len, Ordering::Relaxed);
            next
        }
    };
    let next = match next {
        Some(n) => n,
        None if prev.state() == State::Running || (is_idle && prev.state() != State::Dead) => {
            prev.set_state(State::Running);
            irq_restore(daif);
            return;
        }
        None => idle.clone(),
    };
    if Arc::ptr_eq(&next, &prev) {
        prev.set_state(State::Running);
        irq_restore(daif);
        return;
    }
    switch_to(cpu, prev, next);
    irq_restore(daif);
}

/// Hands this core straight to `next` without the run queue: the IPC fast path.
///
/// The calling thread has blocked itself already (it is on a wait queue, `Blocked`, and whoever
/// wakes it later finds it there); `next` is a blocked thread the caller has just given what it
/// waited for. When `next` is still blocked and nothing more urgent waits for this core, `next`
/// is claimed (`Blocked` to `Ready`, so no wake-up can queue it as well) and runs here at once,
/// whichever core it last ran on; otherwise it is woken the ordinary way and the scheduler picks.
pub fn handoff(next: &Arc<Thread>) {
    let daif = irq_save();
    let cpu = this_cpu();
    // SAFETY: this core's own fields, interrupts masked.
    let prev = unsafe { (*cpu.current.get()).clone() }.expect("a current thread");
    if prev.state() == State::Running || !may_hand_to(next) || !claim(next) {
        irq_restore(daif);
        wake(next);
        schedule();
        return;
    }
    // A pending reschedule (the time slice ended) stays pending: `next` honours it on its way
    // back to user space, so threads of equal priority still get their turn on this core.
    switch_to(cpu, prev, next.clone());
    irq_restore(daif);
}

/// Switches from `prev` to `next` on `cpu` (interrupts masked).
fn switch_to(cpu: &PerCpu, prev: Arc<Thread>, next: Arc<Thread>) {
    prepare_switch(cpu, &prev, &next);
    let prev_ctx = prev.context.get();
    let next_ctx = next.context.get() as *const thread::Context;
    // SAFETY: this core's own fields, interrupts masked.
    unsafe {
        *cpu.prev.get() = Some(prev);
        *cpu.current.get() = Some(next);
    }
    // SAFETY: both contexts belong to live threads (the per-CPU fields hold them); prev's context
    // is written only here, next's was saved by its own last switch (or built by Thread::new).
    unsafe { context_switch(prev_ctx, next_ctx) };
    finish_switch();
}

/// Everything a switch from `prev` to `next` does before the stacks change: the hand-over
/// protocol, CPU time, statistics and the user state.
#[inline(always)]
fn prepare_switch(cpu: &PerCpu, prev: &Thread, next: &Arc<Thread>) {
    while next.on_cpu.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    next.on_cpu.store(true, Ordering::Relaxed);
    next.set_state(State::Running);
    next.cpu.store(cpu.index, Ordering::Relaxed);
    // A thread's CPU time and a core's switch count each have one writer at a time (the core
    // running the thread, the core itself): plain loads and stores, no atomic read-modify-write.
    let now = arch::counter_unordered();
    let ran = now.saturating_sub(prev.switched_in.load(Ordering::Relaxed));
    prev.cpu_ticks.store(
        prev.cpu_ticks.load(Ordering::Relaxed) + ran,
        Ordering::Relaxed,
    );
    next.switched_in.store(now, Ordering::Relaxed);
    cpu.idle_now.store(next.idle, Ordering::Relaxed);
    cpu.slice_left.store(SLICE_TICKS, Ordering::Relaxed);
    cpu.switches
        .store(cpu.switches.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    switch_user_state(cpu, prev, next);
}

/// Whether `next` may have this core at once: nothing more urgent waits in its run queue.
pub fn may_hand_to(next: &Thread) -> bool {
    let cpu = this_cpu();
    cpu.queued.load(Ordering::Relaxed) == 0
        || cpu
            .runqueue
            .lock()
            .best_priority()
            .is_none_or(|best| best >= next.priority)
}

/// Claims a blocked thread for [`block_to`]: no wake-up can queue it any more. False when it
/// is not blocked (woken, or killed and woken, meanwhile).
pub fn claim(t: &Thread) -> bool {
    t.transition(State::Blocked, State::Ready)
}

/// How the thread that [`block_to`] switches to goes on.
pub enum Enter {
    /// From its saved context, as after any switch.
    Context,
    /// `f(arg)`, called on the thread's own stack by this core (the thread gave up its stack
    /// when it blocked, and `f` knows where it continues: its trap frame at `arg`, say). `f` must
    /// call [`finish_switch`] first.
    Call(unsafe extern "C" fn(u64) -> !, u64),
}

/// Blocks the running thread for good on this stack and gives the core to `next`, a thread
/// [`claim`]ed by the caller: the IPC fast path's switch.
///
/// The running thread keeps nothing on its kernel stack but its trap frame `frame` (at the top):
/// whoever wakes it later, it resumes in `resume`, which is called with `frame` on that stack and
/// returns to user space from it. The caller must own nothing on the stack (no guard, no
/// reference count): the frames below are dropped without running anything. Once blocked, the
/// thread is woken at once if it was killed or `arrived` says what it waits for came while it was
/// still running (a waker that found it running could not wake it).
pub fn block_to(
    frame: *mut crate::arch::exceptions::TrapFrame,
    resume: unsafe extern "C" fn(),
    next: Arc<Thread>,
    enter: Enter,
    arrived: impl Fn(&Thread) -> bool,
) -> ! {
    let cpu = this_cpu();
    // SAFETY: this core's own fields, interrupts masked (system calls run with them masked).
    let prev = unsafe { (*cpu.current.get()).take() }.expect("a current thread");
    // SAFETY: prev runs here: only it writes its context, and nobody reads it before prev is
    // woken and its `on_cpu` drops (after the stacks changed, in `finish_switch`).
    unsafe {
        let ctx = &mut *prev.context.get();
        ctx.x[0] = frame as u64;
        ctx.fp = 0;
        ctx.lr = resume as usize as u64;
        ctx.sp = frame as u64;
    }
    prev.transition(State::Running, State::Blocked);
    if prev.killed() || arrived(&prev) {
        wake(&prev);
    }
    prepare_switch(cpu, &prev, &next);
    let next_ctx = next.context.get() as *const thread::Context;
    // SAFETY: this core's own fields, interrupts masked; `finish_switch` emptied `prev`, and
    // `current` was taken above, so nothing is overwritten.
    unsafe {
        cpu.prev.get().write(Some(prev));
        cpu.current.get().write(Some(next));
    }
    match enter {
        // SAFETY: next's context was saved by its own last switch (or built by `block_to`); the
        // per-CPU field keeps next alive.
        Enter::Context => unsafe { context_load(next_ctx) },
        // SAFETY: the caller vouches for `f` and `arg`.
        Enter::Call(f, arg) => unsafe { f(arg) },
    }
}

/// Switches the user-visible state that is not in a trap frame: the TLS register, FP/SIMD access
/// and the address space.
///
/// FP/SIMD state moves lazily. Every thread starts its turn on a core with EL0 FP/SIMD trapping;
/// its first use loads its state ([`fp_trap`]), or only lets it through when the registers still
/// hold it (nobody else loaded theirs here since, and it did not load it on another core). A
/// thread that used FP/SIMD during its turn (`fp_live`) has its state saved when it leaves.
/// Threads that do not touch FP/SIMD in a turn (most servers and their clients between system
/// calls) pay nothing for it.
fn switch_user_state(cpu: &PerCpu, prev: &Thread, next: &Thread) {
    if let Some(fp) = &prev.fp {
        // SAFETY: prev is still on this core; its FP and TLS state are only touched here.
        unsafe {
            if cpu.fp_live.load(Ordering::Relaxed) {
                fp_save(fp.get());
            }
            let tls: u64;
            core::arch::asm!("mrs {}, tpidr_el0", out(reg) tls, options(nomem, nostack));
            *prev.tpidr_el0.get() = tls;
        }
    }
    if next.fp.is_some() {
        // SAFETY: next runs nowhere else (on_cpu protocol); its TLS state is only touched here.
        unsafe {
            core::arch::asm!("msr tpidr_el0, {}", in(reg) *next.tpidr_el0.get(), options(nomem, nostack));
        }
    }
    set_fp_live(cpu, false);
    match next.process.as_ref() {
        Some(p) => p.aspace.activate(),
        None => crate::proc::aspace::activate_kernel_only(),
    }
}

/// Lets EL0 use FP/SIMD on this core (`CPACR_EL1.FPEN` = 0b11) or makes it trap (0b01); EL1
/// never traps. Written only when it changes; the return to EL0 (`ERET`) synchronises it.
fn set_fp_live(cpu: &PerCpu, live: bool) {
    // Only this core reads and writes its flag.
    if cpu.fp_live.load(Ordering::Relaxed) != live {
        cpu.fp_live.store(live, Ordering::Relaxed);
        let fpen: u64 = if live { 0b11 } else { 0b01 };
        // SAFETY: changes which FP/SIMD accesses trap; the kernel never relies on a trap.
        unsafe { core::arch::asm!("msr cpacr_el1, {}", in(reg) fpen << 20, options(nostack)) };
    }
}

/// A user thread touched FP/SIMD for the first time in its turn on this core: loads its state
/// unless the registers still hold it, and lets the thread go on (the trapped instruction runs
/// again). Called with interrupts masked.
pub fn fp_trap() {
    let cpu = this_cpu();
    with_current(|t| {
        let Some(fp) = &t.fp else { return };
        let loaded = cpu.fp_owner.load(Ordering::Relaxed) == t.tid
            && t.fp_cpu.load(Ordering::Relaxed) == cpu.index;
        if !loaded {
            // SAFETY: the thread runs here (on_cpu protocol); its FP state is only touched by
            // the core that runs it. The state the registers held before was saved when its
            // thread left this core, if that thread had used it.
            unsafe { fp_restore(fp.get()) };
            cpu.fp_owner.store(t.tid, Ordering::Relaxed);
            t.fp_cpu.store(cpu.index, Ordering::Relaxed);
        }
        set_fp_live(cpu, true);
    });
}

/// Completes a switch on the new thread's stack: the previous thread may now run elsewhere.
#[inline]
pub fn finish_switch() {
    let cpu = this_cpu();
    // SAFETY: this core's own field, interrupts masked (we come from `switch_to`).
    if let Some(prev) = unsafe { (*cpu.prev.get()).take() } {
        prev.on_cpu.store(false, Ordering::Release);
        // Dropping the last reference of a dead thread frees its stack: safe, we are on another.
        drop(prev);
    }
}

/// Where every new thread starts (from `thread_trampoline`).
#[no_mangle]
extern "C" fn thread_start(entry: usize, arg: usize) -> ! {
    finish_switch();
    arch::irq_enable();
    // SAFETY: `entry` was stored by `Thread::new` from an `extern "C" fn(usize)`.
    let f: extern "C" fn(usize) = unsafe { core::mem::transmute(entry) };
    f(arg);
    exit_current()
}

/// Ends the calling thread.
pub fn exit_current() -> ! {
    current().set_state(State::Dead);
    schedule();
    unreachable!("a dead thread was scheduled again");
}

/// The idle loop of the calling core; never returns.
pub fn idle_loop() -> ! {
    let cpu = this_cpu();
    cpu.idle_now.store(true, Ordering::Relaxed);
    loop {
        if cpu.queued.load(Ordering::Relaxed) > 0 || need_resched() {
            schedule();
            continue;
        }
        if let Some(t) = steal_for(cpu) {
            let mut rq = cpu.runqueue.lock();
            rq.push(t);
            cpu.queued.store(rq.len, Ordering::Relaxed);
            continue;
        }
        let daif = irq_save();
        if cpu.queued.load(Ordering::Relaxed) == 0 && !need_resched() {
            arch::wait_for_interrupt();
        }
        irq_restore(daif);
    }
}

/// Takes a waiting thread from the busiest other core (an idle core should never watch another
/// core's queue hold work).
fn steal_for(me: &PerCpu) -> Option<Arc<Thread>> {
    let victim = cpus()
        .filter(|c| c.index != me.index)
        .max_by_key(|c| c.queued.load(Ordering::Relaxed))?;
    if victim.queued.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut rq = victim.runqueue.lock();
    let t = rq.steal();
    victim.queued.store(rq.len, Ordering::Relaxed);
    t
}

/// Sleeping threads, by deadline (counter ticks).
static SLEEPERS: IrqMutex<alloc::collections::BTreeMap<(u64, u64), Arc<Thread>>> =
    IrqMutex::new(alloc::collections::BTreeMap::new());

/// Sleeps for at least `nanos`; returns false if the thread was killed meanwhile.
pub fn sleep(nanos: u64) -> bool {
    // Rounded up: a sleep never ends early.
    let ticks = keel_core::time::nanos_to_ticks(nanos, arch::counter_frequency());
    let deadline = arch::counter().saturating_add(ticks.max(1));
    let t = current();
    loop {
        if t.killed() {
            return false;
        }
        if arch::counter() >= deadline {
            return true;
        }
        {
            let mut s = SLEEPERS.lock();
            s.insert((deadline, t.tid), t.clone());
            // Blocked before the lock drops: the tick cannot wake us before we are Blocked.
            t.transition(State::Running, State::Blocked);
        }
        crate::time::wake_no_later_than(deadline);
        schedule();
        SLEEPERS.lock().remove(&(deadline, t.tid));
    }
}

/// The earliest deadline of any sleeper (counter value).
pub fn earliest_sleeper() -> Option<u64> {
    SLEEPERS.lock().first_key_value().map(|(k, _)| k.0)
}

/// Wakes every sleeper whose deadline passed (the boot core's tick calls this).
pub fn wake_sleepers() {
    let now = arch::counter();
    let mut due = alloc::vec::Vec::new();
    {
        let mut s = SLEEPERS.lock();
        while let Some(entry) = s.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
    }
    for t in due {
        wake(&t);
    }
}

/// Total context switches on every core.
pub fn total_switches() -> u64 {
    cpus().map(|c| c.switches.load(Ordering::Relaxed)).sum()
}
