// The kernel's memcpy and memset: keel_memcpy and keel_memset (sdk/abi/asm/mem.s, included next
// to this file), whose accesses may be unaligned. That is fine in Normal memory with SCTLR_EL1.A
// clear (the boot code keeps it clear), but not before the MMU is on, when every access is
// Device-nGnRnE: the early boot code (which builds the first page tables) gets plain byte loops.

.section .text

// memcpy(dst: x0, src: x1, n: x2) -> x0. The regions do not overlap.
.global memcpy
.type memcpy, %function
.balign 16
memcpy:
    mrs     x9, sctlr_el1
    tbnz    x9, #0, keel_memcpy             // MMU on
    cbz     x2, 2f
    mov     x3, x0
1:  ldrb    w6, [x1], #1
    strb    w6, [x3], #1
    subs    x2, x2, #1
    b.ne    1b
2:  ret
.size memcpy, . - memcpy

// memset(dst: x0, byte: w1, n: x2) -> x0.
.global memset
.type memset, %function
.balign 16
memset:
    mrs     x9, sctlr_el1
    tbnz    x9, #0, keel_memset             // MMU on
    cbz     x2, 2f
    mov     x3, x0
1:  strb    w1, [x3], #1
    subs    x2, x2, #1
    b.ne    1b
2:  ret
.size memset, . - memset
