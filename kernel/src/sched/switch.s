// Thread switching and the first instructions of a new thread.
//
// context_switch(prev: *mut Context, next: *const Context) saves the callee-saved registers, the
// frame pointer, the link register and the stack pointer of the running thread into *prev and loads
// those of *next; it "returns" into next. Everything else is caller-saved under the AAPCS64, so the
// Rust caller has already spilled what it needs. The kernel is built for a soft-float target and
// never touches FP/SIMD registers; user FP/SIMD state is switched separately (fp_save/fp_restore).
//
// Context layout (see Context in thread.rs): x19..x28, x29, x30, sp.

.section .text
.global context_switch
context_switch:
    stp     x19, x20, [x0, #16 * 0]
    stp     x21, x22, [x0, #16 * 1]
    stp     x23, x24, [x0, #16 * 2]
    stp     x25, x26, [x0, #16 * 3]
    stp     x27, x28, [x0, #16 * 4]
    stp     x29, x30, [x0, #16 * 5]
    mov     x9, sp
    str     x9, [x0, #16 * 6]
    mov     x0, x1
// context_load(next: *const Context) -> !: the second half alone, for a thread that gave up its
// stack (nothing of it needs saving).
.global context_load
context_load:
    ldp     x19, x20, [x0, #16 * 0]
    ldp     x21, x22, [x0, #16 * 1]
    ldp     x23, x24, [x0, #16 * 2]
    ldp     x25, x26, [x0, #16 * 3]
    ldp     x27, x28, [x0, #16 * 4]
    ldp     x29, x30, [x0, #16 * 5]
    ldr     x9, [x0, #16 * 6]
    mov     sp, x9
    ret

// A thread that blocked in the IPC fast path resumes here after a switch (see sched::block_to):
// x19 = its trap frame, at the top of its stack, which is also the stack pointer now.
.global ipc_resume_trampoline
ipc_resume_trampoline:
    mov     x0, x19
    bl      ipc_resume
    mov     sp, x19
    b       el0_return

// ipc_enter_at_frame(frame) -> !: the IPC fast path enters a thread that blocked in it, whose
// trap frame (at the top of its stack) already holds the message: on that stack, the switch is
// finished and the thread returns to user space.
.global ipc_enter_at_frame
ipc_enter_at_frame:
    mov     sp, x0
    mov     x19, x0
    mov     x29, xzr
    bl      ipc_entered
    mov     sp, x19
    b       el0_return

// A new thread's first return lands here: x19 = entry function, x20 = its argument.
.global thread_trampoline
thread_trampoline:
    mov     x0, x19
    mov     x1, x20
    mov     x29, xzr
    bl      thread_start
1:  wfe
    b       1b

// enter_user(frame: *const TrapFrame) -> !: drops to EL0 through the exception return path with the
// registers in *frame, which sits at the top of the thread's kernel stack.
.global enter_user
enter_user:
    mov     sp, x0
    b       trap_return

// FP/SIMD state: q0..q31, then FPCR and FPSR (see FpState in thread.rs).
.arch_extension fp
.arch_extension simd
.global fp_save
fp_save:
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x9, fpcr
    mrs     x10, fpsr
    add     x0, x0, #32 * 16
    stp     x9, x10, [x0]
    ret

.global fp_restore
fp_restore:
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    add     x0, x0, #32 * 16
    ldp     x9, x10, [x0]
    msr     fpcr, x9
    msr     fpsr, x10
    ret
