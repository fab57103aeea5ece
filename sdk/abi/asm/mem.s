// memcpy and memset for code built without SIMD registers (the kernel is soft-float) or that
// does not need them: the widest move is a pair of 64-bit registers, a block of 64 bytes takes
// eight loads and stores, and a short or unaligned length is done with a few overlapping accesses
// instead of a loop. They replace the portable byte-and-word loops of compiler_builtins (weak
// symbols there), which cost about four instructions per 8 bytes.
//
// The accesses may be unaligned: fine in Normal memory with SCTLR_EL1.A clear, as at EL0 and in
// the kernel once its MMU is on (the kernel's memcpy and memset check for that first, see
// kernel/src/arch/mem.s). The kernel and keel-user both include this file; the symbols are
// keel_memcpy and keel_memset, with the C signatures of memcpy and memset.

.section .text.keel_mem, "ax"

// keel_memcpy(dst: x0, src: x1, n: x2) -> x0. The regions do not overlap.
.global keel_memcpy
.type keel_memcpy, %function
.balign 16
keel_memcpy:
    add     x4, x1, x2                      // source end
    add     x5, x0, x2                      // destination end
    cmp     x2, #16
    b.hi    .Lcpy_over16
    cmp     x2, #8
    b.lo    .Lcpy_under8
    ldr     x6, [x1]                        // 8..16: two overlapping words
    ldr     x7, [x4, #-8]
    str     x6, [x0]
    str     x7, [x5, #-8]
    ret
.Lcpy_under8:
    cmp     x2, #4
    b.lo    .Lcpy_under4
    ldr     w6, [x1]                        // 4..7: two overlapping 32-bit words
    ldr     w7, [x4, #-4]
    str     w6, [x0]
    str     w7, [x5, #-4]
    ret
.Lcpy_under4:
    cbz     x2, 9f                      // 1..3: first, middle and last byte
    lsr     x8, x2, #1
    ldrb    w6, [x1]
    ldrb    w7, [x4, #-1]
    ldrb    w9, [x1, x8]
    strb    w6, [x0]
    strb    w9, [x0, x8]
    strb    w7, [x5, #-1]
9:
    ret
.Lcpy_over16:
    cmp     x2, #64
    b.hi    .Lcpy_blocks
    ldp     x6, x7, [x1]                    // 17..64: 16 or 32 bytes from each end
    ldp     x8, x9, [x4, #-16]
    cmp     x2, #32
    b.hi    .Lcpy_upto64
    stp     x6, x7, [x0]
    stp     x8, x9, [x5, #-16]
    ret
.Lcpy_upto64:
    ldp     x10, x11, [x1, #16]
    ldp     x12, x13, [x4, #-32]
    stp     x6, x7, [x0]
    stp     x10, x11, [x0, #16]
    stp     x12, x13, [x5, #-32]
    stp     x8, x9, [x5, #-16]
    ret
.Lcpy_blocks:
    // Over 64: 64-byte blocks from the start, then the last 64 bytes from the end (they may
    // overlap the last block, which is harmless: the regions themselves do not overlap).
    mov     x3, x0
    sub     x2, x2, #64
1:  ldp     x6, x7, [x1]
    ldp     x8, x9, [x1, #16]
    ldp     x10, x11, [x1, #32]
    ldp     x12, x13, [x1, #48]
    add     x1, x1, #64
    stp     x6, x7, [x3]
    stp     x8, x9, [x3, #16]
    stp     x10, x11, [x3, #32]
    stp     x12, x13, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hi    1b
    ldp     x6, x7, [x4, #-64]
    ldp     x8, x9, [x4, #-48]
    ldp     x10, x11, [x4, #-32]
    ldp     x12, x13, [x4, #-16]
    stp     x6, x7, [x5, #-64]
    stp     x8, x9, [x5, #-48]
    stp     x10, x11, [x5, #-32]
    stp     x12, x13, [x5, #-16]
    ret
.size keel_memcpy, . - keel_memcpy

// keel_memset(dst: x0, byte: w1, n: x2) -> x0.
.global keel_memset
.type keel_memset, %function
.balign 16
keel_memset:
    and     x6, x1, #0xff                   // the byte in every byte of x6
    orr     x6, x6, x6, lsl #8
    orr     x6, x6, x6, lsl #16
    orr     x6, x6, x6, lsl #32
    add     x5, x0, x2                      // end
    cmp     x2, #16
    b.hi    .Lset_over16
    cmp     x2, #8
    b.lo    .Lset_under8
    str     x6, [x0]                        // 8..16
    str     x6, [x5, #-8]
    ret
.Lset_under8:
    cmp     x2, #4
    b.lo    .Lset_under4
    str     w6, [x0]                        // 4..7
    str     w6, [x5, #-4]
    ret
.Lset_under4:
    cbz     x2, 9f                      // 1..3
    lsr     x8, x2, #1
    strb    w6, [x0]
    strb    w6, [x0, x8]
    strb    w6, [x5, #-1]
9:
    ret
.Lset_over16:
    cmp     x2, #64
    b.hi    .Lset_blocks
    stp     x6, x6, [x0]                    // 17..64
    stp     x6, x6, [x5, #-16]
    cmp     x2, #32
    b.ls    9b
    stp     x6, x6, [x0, #16]
    stp     x6, x6, [x5, #-32]
    ret
.Lset_blocks:
    mov     x3, x0
    sub     x2, x2, #64
1:  stp     x6, x6, [x3]
    stp     x6, x6, [x3, #16]
    stp     x6, x6, [x3, #32]
    stp     x6, x6, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hi    1b
    stp     x6, x6, [x5, #-64]
    stp     x6, x6, [x5, #-48]
    stp     x6, x6, [x5, #-32]
    stp     x6, x6, [x5, #-16]
    ret
.size keel_memset, . - keel_memset
