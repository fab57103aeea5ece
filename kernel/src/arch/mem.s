// memcpy and memset for the kernel, which is built soft-float: no SIMD registers, so the widest
// move is a pair of 64-bit registers. These replace the portable byte-and-word loops of
// compiler_builtins (weak symbols there), which cost about four instructions per 8 bytes plus a
// byte loop for any misalignment; here a block of 64 bytes takes eight loads and stores, and a
// short or unaligned copy is done with a few overlapping accesses instead of a loop.
//
// Unaligned 64-bit accesses are fine in Normal memory with SCTLR_EL1.A clear (the boot code
// keeps it clear), but not before the MMU is on, when every access is Device-nGnRnE: the early
// boot code (which builds the first page tables) takes the plain byte loops then.

.section .text

// memcpy(dst: x0, src: x1, n: x2) -> x0. The regions do not overlap.
.global memcpy
.balign 16
memcpy:
    mrs     x9, sctlr_el1
    tbz     x9, #0, .Lcpy_bytes             // MMU off: bytes only
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
    ldr     w6, [x1]                        // 4..7: two overlapping half-words of 32 bits
    ldr     w7, [x4, #-4]
    str     w6, [x0]
    str     w7, [x5, #-4]
    ret
.Lcpy_under4:
    cbz     x2, .Lcpy_done                  // 1..3: first, middle and last byte
    lsr     x8, x2, #1
    ldrb    w6, [x1]
    ldrb    w7, [x4, #-1]
    ldrb    w9, [x1, x8]
    strb    w6, [x0]
    strb    w9, [x0, x8]
    strb    w7, [x5, #-1]
.Lcpy_done:
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
.Lcpy_bytes:
    cbz     x2, .Lcpy_done
    mov     x3, x0
2:  ldrb    w6, [x1], #1
    strb    w6, [x3], #1
    subs    x2, x2, #1
    b.ne    2b
    ret

// memset(dst: x0, byte: w1, n: x2) -> x0.
.global memset
.balign 16
memset:
    mrs     x9, sctlr_el1
    tbz     x9, #0, .Lset_bytes             // MMU off: bytes only
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
    cbz     x2, .Lset_done                  // 1..3
    lsr     x8, x2, #1
    strb    w6, [x0]
    strb    w6, [x0, x8]
    strb    w6, [x5, #-1]
.Lset_done:
    ret
.Lset_over16:
    cmp     x2, #64
    b.hi    .Lset_blocks
    stp     x6, x6, [x0]                    // 17..64
    stp     x6, x6, [x5, #-16]
    cmp     x2, #32
    b.ls    .Lset_done
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
.Lset_bytes:
    cbz     x2, .Lset_done
    mov     x3, x0
2:  strb    w1, [x3], #1
    subs    x2, x2, #1
    b.ne    2b
    ret
