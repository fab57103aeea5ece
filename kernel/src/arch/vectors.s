// The 16 AArch64 exception vectors of EL1 and the register save/restore around the Rust handler.
//
// Each entry saves the interrupted context into a TrapFrame on the current stack and calls
// trap_entry(frame, kind) in exceptions.rs; kind is the vector index 0..15:
//   0-3   current EL with SP_EL0   (sync, irq, fiq, serror)
//   4-7   current EL with SP_ELx
//   8-11  lower EL, AArch64
//   12-15 lower EL, AArch32
// Entries taken on the kernel's own stack (4-7) first check for a stack overflow: kernel stacks are
// KERNEL_STACK_SIZE (64 KiB) long and aligned to twice that, so bit 16 of a valid stack pointer is
// clear and a pointer that ran into the guard page below has it set. Such an entry switches to the
// overflow stack and reports kind | 0x100.

.equ FRAME_SIZE, 36 * 8          // x0-x30, sp, elr, spsr, esr, far (see TrapFrame)
.equ STACK_BIT, 16
.equ OVERFLOW_STACK_SHIFT, 14    // 16 KiB per core

// x2..x29 into the frame at sp (x0/x1 are saved by the vector itself).
.macro save_x2_to_x29
    stp     x2, x3,   [sp, #16 * 1]
    stp     x4, x5,   [sp, #16 * 2]
    stp     x6, x7,   [sp, #16 * 3]
    stp     x8, x9,   [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
.endm

// elr, spsr, esr and far into the frame at sp; leaves elr in x2 and esr in x4.
.macro save_elr_to_far
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3,   [sp, #16 * 16]
    mrs     x4, esr_el1
    mrs     x5, far_el1
    stp     x4, x5,   [sp, #16 * 17]
.endm

.macro save_and_call kind
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #\kind
    b       save_rest
.endm

// Current EL, SP_EL0 and lower EL: the stack is known good.
.macro vector_plain kind
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    save_and_call \kind
.endm

// Lower EL, AArch64, synchronous: system calls and user faults, with their own save (el0_sync).
.macro vector_el0_sync
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #16 * 0]
    b       el0_sync
.endm

// Current EL, SP_ELx: check for a kernel stack overflow first (x0 is borrowed through sp).
.macro vector_checked kind
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    add     sp, sp, x0                  // sp = sp' + x0
    sub     x0, sp, x0                  // x0 = sp'
    tbnz    x0, #STACK_BIT, 1f
    sub     x0, sp, x0                  // x0 restored
    sub     sp, sp, x0                  // sp restored
    save_and_call \kind
1:  sub     x0, sp, x0                  // x0 restored
    sub     sp, sp, x0                  // sp restored (pointing into the guard page)
    b       stack_overflow_\kind
.endm

.section .text
.balign 0x800
.global exception_vectors
exception_vectors:
    vector_plain 0
    vector_plain 1
    vector_plain 2
    vector_plain 3
    vector_checked 4
    vector_checked 5
    vector_checked 6
    vector_checked 7
    vector_el0_sync
    vector_plain 9
    vector_plain 10
    vector_plain 11
    vector_plain 12
    vector_plain 13
    vector_plain 14
    vector_plain 15

.macro overflow_entry kind
stack_overflow_\kind:
    msr     tpidrro_el0, x0             // scratch registers: this path never returns
    mov     x0, sp
    msr     tpidr_el0, x0               // the overflowed stack pointer, for the report
    mrs     x0, mpidr_el1               // each core has its own overflow stack, by Aff0
    and     x0, x0, #0xff
    add     x0, x0, #1
    lsl     x0, x0, #OVERFLOW_STACK_SHIFT
    mov     sp, x0
    ldr     x0, =__overflow_stacks
    add     sp, sp, x0
    mrs     x0, tpidrro_el0
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #16 * 0]
    mov     x1, #(\kind | 0x100)
    b       save_rest
.endm
overflow_entry 4
overflow_entry 5
overflow_entry 6
overflow_entry 7

// A synchronous exception from EL0 (x0/x1 saved): the same frame as save_rest builds, without
// asking where it came from. A system call tries the early paths first: CALL and REPLY_RECV the
// IPC fast path (which returns only when it does not apply), the others syscall_early, which
// completes the cheap calls (then true: back to user space from here). Everything else goes to
// trap_entry as kind 8. x8, the system call number, is still the caller's here.
el0_sync:
    save_x2_to_x29
    mrs     x2, sp_el0
    stp     x30, x2,  [sp, #16 * 15]
    save_elr_to_far
    mov     x0, sp                      // &mut TrapFrame
    stp     x29, x2, [sp, #-16]!        // frame record (interrupted x29, elr), as in save_rest
    mov     x29, sp
    lsr     x4, x4, #26
    cmp     x4, #0x15                   // SVC from AArch64
    b.ne    1f
    cmp     x8, #{SYS_CALL}
    b.eq    2f
    cmp     x8, #{SYS_REPLY_RECV}
    b.eq    3f
    bl      syscall_early
    cbz     w0, 4f
    add     sp, sp, #16
    b       el0_return
2:  bl      ipc_fast_call
    b       4f
3:  bl      ipc_fast_reply_recv
4:  add     x0, sp, #16
1:  mov     x1, #8
    bl      trap_entry
    add     sp, sp, #16
    b       trap_return

// x1 = kind; x0/x1 of the interrupted context already saved.
save_rest:
    save_x2_to_x29
    // x30 and the interrupted stack pointer: SP_EL0 for lower-EL and SP_EL0-mode entries, else
    // the kernel stack as it was before this frame.
    mrs     x2, sp_el0
    and     x4, x1, #0xff
    cmp     x4, #4
    b.lo    2f
    cmp     x4, #8
    b.hs    2f
    add     x2, sp, #(FRAME_SIZE + 16 * 0)
    tbz     x1, #8, 2f
    mrs     x2, tpidr_el0
2:  stp     x30, x2, [sp, #16 * 15]
    save_elr_to_far

    mov     x0, sp                      // &mut TrapFrame
    // A frame record (interrupted x29, elr) links the handler's backtrace to the interrupted code.
    stp     x29, x2, [sp, #-16]!
    mov     x29, sp
    bl      trap_entry
    add     sp, sp, #16

// sp = &TrapFrame: restore it and return from the exception. New user threads start here too.
.global trap_return
trap_return:
    // The handler may have changed elr/spsr/sp_el0 in the frame.
    ldp     x2, x3, [sp, #16 * 16]
    and     x4, x3, #0xf                // SPSR.M[3:0]: 0 = EL0t
    cbz     x4, el0_return
    msr     elr_el1, x2
    msr     spsr_el1, x3
    b       restore_registers

// sp = &TrapFrame of a frame that returns to EL0: trap_return without the check, for the system
// call paths that never went through trap_entry.
.global el0_return
el0_return:
    ldp     x2, x3, [sp, #16 * 16]
    ldr     x4, [sp, #16 * 15 + 8]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    msr     sp_el0, x4
restore_registers:
    ldp     x0, x1,   [sp, #16 * 0]
    ldp     x2, x3,   [sp, #16 * 1]
    ldp     x4, x5,   [sp, #16 * 2]
    ldp     x6, x7,   [sp, #16 * 3]
    ldp     x8, x9,   [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldr     x30,      [sp, #16 * 15]
    add     sp, sp, #FRAME_SIZE
    eret

.section .bss
.balign 16
__overflow_stacks:
    .skip   16384 * 8
