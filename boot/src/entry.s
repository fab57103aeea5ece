// Keel's first instructions.
//
// The image starts with the Linux arm64 Image header, so QEMU and the Raspberry Pi firmware treat it as
// an arm64 kernel: the device-tree address arrives in x0. The code here runs at whatever physical
// address the image was loaded to, with the MMU off, so it uses PC-relative addressing only (adr/adrp)
// until it jumps to the linked upper-half address.
//
// Flow: header -> primary_entry -> (EL3 -> EL2) -> (EL2 -> EL1) -> el1_entry: zero .bss, boot stack,
// early_mmu_setup (Rust, boot/src/early.rs) -> MMU and caches on -> jump to KERNEL_VA -> kernel_main.
// Any core but the first goes to secondary_park and waits on its release slot.

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry               // 0x00 code0
    .long   0                           // 0x04 code1
    .quad   0x80000                     // 0x08 text_offset
    .quad   __image_size                // 0x10 image_size, including .bss and the boot stack
    .quad   0xa                         // 0x18 flags: little endian, 4 KiB pages, place anywhere
    .quad   0                           // 0x20 res2
    .quad   0                           // 0x28 res3
    .quad   0                           // 0x30 res4
    .ascii  "ARM\x64"                   // 0x38 magic
    .long   0                           // 0x3c res5

.section .text.boot, "ax"
primary_entry:
    mov     x19, x0                     // device-tree physical address
    mrs     x1, mpidr_el1
    and     x1, x1, #0xffffff           // Aff2..Aff0
    cbnz    x1, secondary_park
    adr     x28, el1_entry              // where the EL drop below continues

drop_to_el1:
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #3
    b.eq    from_el3
    cmp     x0, #2
    b.eq    from_el2
    br      x28

// EL3: make EL2 (or EL1 when there is no EL2) non-secure AArch64 and drop into it.
from_el3:
    msr     cptr_el3, xzr               // no FP/SIMD traps to EL3
    mov     x0, #0x531                  // RW | HCE | RES1(5:4) | NS
    msr     scr_el3, x0
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #8, #4              // EL2 field
    cbz     x0, 1f
    mov     x0, #0x3c9                  // EL2h, DAIF masked
    msr     spsr_el3, x0
    adr     x0, from_el2
    msr     elr_el3, x0
    eret
1:  mov     x0, #0x3c5                  // EL1h, DAIF masked
    msr     spsr_el3, x0
    msr     elr_el3, x28
    eret

// EL2: run EL1 in AArch64, untrapped, with the real ID registers and timer access, then drop.
from_el2:
    mov     x0, #(1 << 31)              // HCR_EL2.RW: EL1 is AArch64; no virtualization
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3                  // EL1PCTEN | EL1PCEN: EL1 may use the physical counter/timer
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff                 // CPTR_EL2: RES1 bits only, nothing trapped
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mov     x0, #0x3c5                  // EL1h, DAIF masked
    msr     spsr_el2, x0
    msr     elr_el2, x28
    eret

el1_entry:
    // SCTLR_EL1: RES1 bits, MMU and caches off, little endian, alignment checks off for now.
    ldr     x0, =0x30d00800
    msr     sctlr_el1, x0
    isb
    msr     cpacr_el1, xzr              // the kernel never uses FP/SIMD (softfloat target)

    adrp    x0, __boot_stack_top
    add     x0, x0, :lo12:__boot_stack_top
    mov     sp, x0

    // Zero .bss (MMU off: plain stores, no DC ZVA on Device memory).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:
    // early_mmu_setup(dtb_pa, image_pa): builds the boot tables and loads MAIR/TCR/TTBR0/TTBR1.
    mov     x0, x19
    adr     x1, _start
    mov     x20, x1                     // image physical base, kept for kernel_main
    bl      early_mmu_setup
    bl      mmu_on

    ldr     x0, =upper_half_entry       // absolute, linked address in the upper half
    br      x0

// Turns the MMU and the caches on with the translation registers already loaded; returns through
// the identity map of .text (x30 is a physical address). Clobbers x0 and x1.
mmu_on:
    ic      iallu
    dsb     nsh
    isb
    mrs     x0, sctlr_el1
    mov     x1, #((1 << 0) | (1 << 2) | (1 << 12))   // M | C | I
    orr     x0, x0, x1
    orr     x0, x0, #(1 << 19)          // WXN: writable memory is never executable
    msr     sctlr_el1, x0
    isb
    ret

.section .text.boot, "ax"
upper_half_entry:
    ldr     x0, =__boot_stack_top
    mov     sp, x0
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    // The identity map was only needed to reach this point.
    bl      early_drop_identity_map
    mov     x0, x19                     // device-tree physical address
    mov     x1, x20                     // image physical base
    mov     x29, xzr                    // end of the frame-pointer chain
    mov     x30, xzr
    bl      kernel_main
3:  wfe
    b       3b

// A secondary core started by the kernel (PSCI CPU_ON on virt, the firmware's spin table on the Pi 4) enters
// here at its physical address with the MMU off, at EL3, EL2 or EL1. It drops to EL1 like the first
// core, loads the kernel's translation registers from secondary_boot (written and cleaned to the
// point of coherency by the first core), turns the MMU on, and continues in the upper half on the
// stack the kernel prepared for it (secondary_stacks[Aff0]).
.global secondary_entry
secondary_entry:
    adr     x28, secondary_el1
    b       drop_to_el1

secondary_el1:
    ldr     x0, =0x30d00800
    msr     sctlr_el1, x0
    isb
    adrp    x1, secondary_boot
    add     x1, x1, :lo12:secondary_boot
    ldp     x2, x3, [x1, #0]            // MAIR, TCR
    msr     mair_el1, x2
    msr     tcr_el1, x3
    ldp     x2, x3, [x1, #16]           // TTBR0 (identity map of .text), TTBR1 (the kernel)
    msr     ttbr0_el1, x2
    msr     ttbr1_el1, x3
    isb
    tlbi    vmalle1
    dsb     nsh
    bl      mmu_on
    ldr     x0, =secondary_upper
    br      x0

secondary_upper:
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    ldr     x2, =secondary_stacks
    ldr     x3, [x2, x1, lsl #3]
    mov     sp, x3
    ldr     x0, =exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x0, x1                      // Aff0
    mov     x29, xzr
    mov     x30, xzr
    bl      secondary_main
4:  wfe
    b       4b

// Any core other than the first that enters at _start (firmware that starts every core at the
// kernel) waits here until its slot in secondary_release is set, then jumps there with x0 = its
// MPIDR.
secondary_park:
    and     x1, x1, #0xff               // Aff0 (up to 8 cores per cluster)
    adrp    x2, secondary_release
    add     x2, x2, :lo12:secondary_release
1:  wfe
    ldr     x3, [x2, x1, lsl #3]
    cbz     x3, 1b
    mrs     x0, mpidr_el1
    br      x3

.section .data
.balign 64
.global secondary_release
secondary_release:
    .fill   8, 8, 0

// MAIR, TCR, TTBR0, TTBR1 for secondary cores (read with the MMU and caches off).
.balign 64
.global secondary_boot
secondary_boot:
    .fill   8, 8, 0

// The initial stack pointer of each secondary core, by Aff0.
.balign 64
.global secondary_stacks
secondary_stacks:
    .fill   8, 8, 0
