//! The kernel's virtual address layout and the symbols the linker script (`boot/kernel.ld`) defines.

/// Where the linker script places the kernel image (must match `KERNEL_VA` in `kernel.ld`).
pub const KERNEL_VA: u64 = 0xFFFF_FFFF_8000_0000;
/// Base of the direct map: physical address `p` is mapped at `DIRECT_MAP_BASE + p`.
pub const DIRECT_MAP_BASE: u64 = 0xFFFF_0000_0000_0000;
/// Size of a kernel stack. Stacks are aligned to twice their size so the exception entry can tell
/// an overflow into the guard page below from a valid stack pointer by one address bit.
pub const KERNEL_STACK_SIZE: u64 = 64 * 1024;

extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __bss_end: u8;
    static __boot_stack_guard: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
    static __image_end: u8;
    static __ksyms_start: u8;
    static __ksyms_end: u8;
}

/// The address of a linker-script symbol, as seen from where the code runs now (physical before
/// the MMU is on, virtual after).
macro_rules! sym {
    ($s:ident) => {
        core::ptr::addr_of!($s) as u64
    };
}

/// The kernel image's sections with the addresses the code sees when it asks.
#[derive(Clone, Copy, Debug)]
pub struct Sections {
    /// Start of the image (the Image header, then `.text`).
    pub image_start: u64,
    /// End of `.text`.
    pub text_end: u64,
    /// Start of `.rodata`.
    pub rodata_start: u64,
    /// End of `.rodata` (and of `.ksyms`).
    pub rodata_end: u64,
    /// Start of `.data`.
    pub data_start: u64,
    /// End of `.bss`.
    pub bss_end: u64,
    /// The unmapped guard page under the boot stack.
    pub stack_guard: u64,
    /// Lowest address of the boot stack.
    pub stack_bottom: u64,
    /// Initial stack pointer of the boot stack.
    pub stack_top: u64,
    /// End of the image, including `.bss` and the boot stack.
    pub image_end: u64,
    /// Start of the embedded symbol table.
    pub ksyms_start: u64,
    /// End of the embedded symbol table.
    pub ksyms_end: u64,
}

impl Sections {
    /// Reads the section bounds (PC-relative, so valid with the MMU on or off).
    #[inline(always)]
    pub fn current() -> Self {
        Sections {
            image_start: sym!(__image_start),
            text_end: sym!(__text_end),
            rodata_start: sym!(__rodata_start),
            rodata_end: sym!(__rodata_end),
            data_start: sym!(__data_start),
            bss_end: sym!(__bss_end),
            stack_guard: sym!(__boot_stack_guard),
            stack_bottom: sym!(__boot_stack_bottom),
            stack_top: sym!(__boot_stack_top),
            image_end: sym!(__image_end),
            ksyms_start: sym!(__ksyms_start),
            ksyms_end: sym!(__ksyms_end),
        }
    }

    /// Size of the whole image in memory.
    pub fn image_size(&self) -> u64 {
        self.image_end - self.image_start
    }
}
