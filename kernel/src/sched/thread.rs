//! Threads: saved registers, kernel stacks with guard pages, FP/SIMD state.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use keel_boot::layout::KERNEL_STACK_SIZE;
use keel_core::idalloc::IdAllocator;
use keel_core::pagetable::Perm;

use crate::mm::{self, PAGE_SIZE};
use crate::sync::IrqMutex;

/// Where kernel stacks live: slot `i` spans `[STACK_REGION + 2i * 64K, + 128K)`; its lower half is the
/// stack (128 KiB-aligned, as the overflow check in `vectors.s` needs) and its upper half stays
/// unmapped, the guard page of the next slot's stack.
const STACK_REGION: u64 = 0xFFFF_FF00_0000_0000;
const SLOT_SIZE: u64 = 2 * KERNEL_STACK_SIZE;
const STACK_PAGES: u64 = KERNEL_STACK_SIZE / PAGE_SIZE;

static STACK_SLOTS: IrqMutex<IdAllocator<64>> = IrqMutex::new(IdAllocator::new());

/// A kernel stack of [`KERNEL_STACK_SIZE`] bytes with an unmapped guard below it.
pub struct KernelStack {
    slot: usize,
    pa: u64,
}

impl KernelStack {
    /// Allocates and maps a stack; `None` when out of memory or stack slots.
    pub fn new() -> Option<KernelStack> {
        let slot = STACK_SLOTS.lock().alloc()?;
        let Some(pa) = mm::phys::alloc_pages(STACK_PAGES) else {
            STACK_SLOTS.lock().free(slot);
            return None;
        };
        let stack = KernelStack { slot, pa };
        if mm::map::map_kernel(stack.bottom(), pa, KERNEL_STACK_SIZE, Perm::RW).is_err() {
            mm::phys::free_pages(pa, STACK_PAGES);
            STACK_SLOTS.lock().free(slot);
            return None;
        }
        Some(stack)
    }

    /// Lowest address of the stack.
    pub fn bottom(&self) -> u64 {
        STACK_REGION + self.slot as u64 * SLOT_SIZE
    }

    /// The initial stack pointer (one past the highest byte).
    pub fn top(&self) -> u64 {
        self.bottom() + KERNEL_STACK_SIZE
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let _ = mm::map::unmap_kernel(self.bottom(), KERNEL_STACK_SIZE);
        mm::phys::free_pages(self.pa, STACK_PAGES);
        STACK_SLOTS.lock().free(self.slot);
    }
}

/// Callee-saved registers of a switched-out thread (layout shared with `switch.s`).
#[repr(C)]
#[derive(Default, Debug)]
pub struct Context {
    /// x19..x28.
    pub x: [u64; 10],
    /// Frame pointer.
    pub fp: u64,
    /// Where `context_switch` returns to.
    pub lr: u64,
    /// Stack pointer.
    pub sp: u64,
}

/// FP/SIMD registers of a user thread (layout shared with `switch.s`).
#[repr(C, align(16))]
pub struct FpState {
    /// q0..q31.
    pub q: [u128; 32],
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
}

/// Scheduling state of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// On a CPU now.
    Running = 0,
    /// In a run queue.
    Ready = 1,
    /// Waiting for an event.
    Blocked = 2,
    /// Finished; never runs again.
    Dead = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Running,
            1 => State::Ready,
            2 => State::Blocked,
            _ => State::Dead,
        }
    }
}

/// Number of priority levels; 0 is the most urgent.
pub const PRIORITIES: usize = 8;
/// Priority of kernel worker threads.
pub const PRIO_KERNEL: u8 = 1;
/// Default priority of user threads.
pub const PRIO_USER: u8 = 4;
/// The idle threads' nominal priority (they are never queued).
pub const PRIO_IDLE: u8 = (PRIORITIES - 1) as u8;

static NEXT_TID: AtomicU64 = AtomicU64::new(1);

/// A thread of execution: kernel-only, or the kernel half of a user process's thread.
pub struct Thread {
    /// Unique id.
    pub tid: u64,
    /// For messages and `ps`.
    pub name: String,
    /// Scheduling priority (0 most urgent).
    pub priority: u8,
    /// A core's idle thread.
    pub(super) idle: bool,
    state: AtomicU8,
    /// Still executing on some CPU (between being switched out and the switch completing).
    pub(super) on_cpu: AtomicBool,
    /// The CPU it runs or last ran on.
    pub cpu: AtomicUsize,
    /// Set by `kill`: the thread leaves at its next return to user space or wait.
    killed: AtomicBool,
    /// CPU time used, in counter ticks (converted when asked: [`Thread::cpu_nanos`]).
    pub(super) cpu_ticks: AtomicU64,
    /// When it was last switched in (counter ticks).
    pub(super) switched_in: AtomicU64,
    pub(super) context: UnsafeCell<Context>,
    pub(super) fp: Option<Box<UnsafeCell<FpState>>>,
    /// The core whose registers its FP/SIMD state was last loaded into (`usize::MAX`: none).
    pub(super) fp_cpu: AtomicUsize,
    pub(super) tpidr_el0: UnsafeCell<u64>,
    /// Its kernel stack, owned (freed with the thread); `None` for the boot thread, which runs
    /// on the image's boot stack.
    _stack: Option<KernelStack>,
    /// Where a user thread's trap frame lives: at the very top of its kernel stack, where the
    /// exception entry from EL0 puts it (0 for kernel threads).
    user_frame: u64,
    /// The user process it belongs to, if any (fixed when the thread is made).
    pub process: Option<Arc<crate::proc::Process>>,
    /// IPC state (message registers while blocked in an IPC call).
    pub ipc: crate::ipc::ThreadIpc,
}

// SAFETY: the UnsafeCell fields are touched only by the scheduler on the CPU that runs the thread,
// with interrupts masked, while the thread is not running anywhere else (`on_cpu` protocol).
unsafe impl Sync for Thread {}
// SAFETY: see above.
unsafe impl Send for Thread {}

impl Thread {
    fn new_inner(
        name: &str,
        priority: u8,
        stack: Option<KernelStack>,
        process: Option<Arc<crate::proc::Process>>,
    ) -> Thread {
        Thread {
            tid: NEXT_TID.fetch_add(1, Ordering::Relaxed),
            name: String::from(name),
            priority: priority.min(PRIO_IDLE),
            idle: false,
            state: AtomicU8::new(State::Ready as u8),
            on_cpu: AtomicBool::new(false),
            cpu: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            cpu_ticks: AtomicU64::new(0),
            switched_in: AtomicU64::new(0),
            context: UnsafeCell::new(Context::default()),
            fp: process.is_some().then(|| {
                Box::new(UnsafeCell::new(FpState {
                    q: [0; 32],
                    fpcr: 0,
                    fpsr: 0,
                }))
            }),
            fp_cpu: AtomicUsize::new(usize::MAX),
            tpidr_el0: UnsafeCell::new(0),
            user_frame: match (&stack, &process) {
                (Some(s), Some(_)) => {
                    s.top() - core::mem::size_of::<crate::arch::exceptions::TrapFrame>() as u64
                }
                _ => 0,
            },
            _stack: stack,
            process,
            ipc: crate::ipc::ThreadIpc::new(),
        }
    }

    /// The thread that is already running this code (boot or a secondary core's first thread).
    pub(super) fn adopt_current(name: &str, stack: Option<KernelStack>) -> Thread {
        let mut t = Thread::new_inner(name, PRIO_IDLE, stack, None);
        t.idle = true;
        t.state.store(State::Running as u8, Ordering::Relaxed);
        t.on_cpu.store(true, Ordering::Relaxed);
        t
    }

    /// A new thread that will start by calling `entry(arg)`; the threads of a user `process` get
    /// FP/SIMD state.
    pub fn new(
        name: &str,
        priority: u8,
        entry: extern "C" fn(usize),
        arg: usize,
        process: Option<Arc<crate::proc::Process>>,
    ) -> Option<Arc<Thread>> {
        let stack = KernelStack::new()?;
        let top = stack.top();
        let t = Thread::new_inner(name, priority, Some(stack), process);
        extern "C" {
            fn thread_trampoline();
        }
        // SAFETY: the thread is not running yet; nobody else sees its context.
        let ctx = unsafe { &mut *t.context.get() };
        ctx.x[0] = entry as *const () as u64;
        ctx.x[1] = arg as u64;
        ctx.lr = thread_trampoline as *const () as u64;
        // A user thread's kernel code runs below its trap frame.
        ctx.sp = match t.user_frame() {
            Some(frame) => frame,
            None => top,
        };
        Some(Arc::new(t))
    }

    /// Current scheduling state.
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(super) fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Atomically moves from `from` to `to`; false if the state was not `from`.
    pub(super) fn transition(&self, from: State, to: State) -> bool {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Nanoseconds of CPU time used.
    pub fn cpu_nanos(&self) -> u64 {
        keel_core::time::ticks_to_nanos(
            self.cpu_ticks.load(Ordering::Relaxed),
            crate::arch::counter_frequency(),
        )
    }

    /// Whether the thread has been told to end.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Tells the thread to end and wakes it if it waits.
    pub fn kill(self: &Arc<Self>) {
        self.killed.store(true, Ordering::Release);
        super::wake(self);
    }

    /// Where a user thread's trap frame lives (at the top of its kernel stack); `None` for a
    /// kernel thread.
    #[inline]
    pub fn user_frame(&self) -> Option<u64> {
        (self.user_frame != 0).then_some(self.user_frame)
    }
}
