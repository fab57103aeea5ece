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

// memcmp(a: x0, b: x1, n: x2) -> w0: negative, zero or positive as the first differing byte of
// `a` is below, equal to or above `b`'s (as unsigned bytes). With the MMU on, eight bytes at a
// time (unaligned loads are fine in Normal memory, as for keel_memcpy); a differing word is
// byte-reversed so that comparing it as a number compares its first differing byte.
.global memcmp
.type memcmp, %function
.balign 16
memcmp:
    mrs     x9, sctlr_el1
    tbz     x9, #0, .Lcmp_bytes             // MMU off: bytes only
    subs    x2, x2, #8
    b.lo    .Lcmp_tail
1:  ldr     x3, [x0], #8
    ldr     x4, [x1], #8
    cmp     x3, x4
    b.ne    .Lcmp_word
    subs    x2, x2, #8
    b.hs    1b
.Lcmp_tail:
    adds    x2, x2, #8                      // the 0..7 bytes left
.Lcmp_bytes:
    cbz     x2, .Lcmp_equal
2:  ldrb    w3, [x0], #1
    ldrb    w4, [x1], #1
    subs    w5, w3, w4
    b.ne    3f
    subs    x2, x2, #1
    b.ne    2b
.Lcmp_equal:
    mov     w5, #0
3:  mov     w0, w5
    ret
.Lcmp_word:
    rev     x3, x3
    rev     x4, x4
    cmp     x3, x4
    cset    w0, hi
    csinv   w0, w0, wzr, hs                 // 1 if above, -1 if below
    ret
.size memcmp, . - memcmp

// bcmp(a: x0, b: x1, n: x2) -> w0: zero when the bytes are equal; memcmp answers that too.
.global bcmp
.type bcmp, %function
.balign 16
bcmp:
    b       memcmp
.size bcmp, . - bcmp
