//! Test support: a small ELF64 writer for hand-made AArch64 relocatable objects, and
//! instruction decoders written independently of the engine's encoders.
#![allow(dead_code)]

use goblin::elf::section_header::{
    SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS, SHT_RELA,
    SHT_STRTAB, SHT_SYMTAB,
};
use goblin::elf::sym::{STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT};

/// Symbol binding for [`ElfBuilder::symbol`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    Local,
    Global,
    Weak,
}

/// Section kinds the builder knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Rodata,
    Data,
    Bss,
    /// Not loaded (like debug info).
    Other,
}

struct Sec {
    name: String,
    sh_type: u32,
    flags: u64,
    data: Vec<u8>,
    size: u64,
    align: u64,
}

struct SymDef {
    name: String,
    shndx: u16,
    value: u64,
    size: u64,
    bind: Bind,
    kind: u8,
    other: u8,
}

struct RelaDef {
    target: usize,
    offset: u64,
    sym: u32,
    r_type: u32,
    addend: i64,
}

/// Builds an ELF64 little-endian AArch64 `ET_REL` object.
///
/// Sections added by the caller get indices 1, 2, ...; the builder appends one `.rela`
/// section per relocated section, then `.symtab`, `.strtab` and `.shstrtab`.
pub struct ElfBuilder {
    sections: Vec<Sec>,
    syms: Vec<SymDef>,
    relas: Vec<RelaDef>,
}

impl Default for ElfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ElfBuilder {
    pub fn new() -> ElfBuilder {
        ElfBuilder {
            sections: Vec::new(),
            syms: vec![SymDef {
                name: String::new(),
                shndx: 0,
                value: 0,
                size: 0,
                bind: Bind::Local,
                kind: STT_NOTYPE,
                other: 0,
            }],
            relas: Vec::new(),
        }
    }

    /// Adds a section; returns its index.
    pub fn section(&mut self, name: &str, kind: Kind, data: &[u8], align: u64) -> usize {
        let (sh_type, flags) = match kind {
            Kind::Text => (SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR),
            Kind::Rodata => (SHT_PROGBITS, SHF_ALLOC),
            Kind::Data => (SHT_PROGBITS, SHF_ALLOC | SHF_WRITE),
            Kind::Bss => (SHT_NOBITS, SHF_ALLOC | SHF_WRITE),
            Kind::Other => (SHT_PROGBITS, 0),
        };
        self.raw_section(
            name,
            sh_type,
            u64::from(flags),
            data,
            data.len() as u64,
            align,
        )
    }

    /// Adds a `.bss`-like section of `size` bytes.
    pub fn bss(&mut self, name: &str, size: u64, align: u64) -> usize {
        self.raw_section(
            name,
            SHT_NOBITS,
            u64::from(SHF_ALLOC | SHF_WRITE),
            &[],
            size,
            align,
        )
    }

    /// Adds a section with explicit type and flags.
    pub fn raw_section(
        &mut self,
        name: &str,
        sh_type: u32,
        flags: u64,
        data: &[u8],
        size: u64,
        align: u64,
    ) -> usize {
        self.sections.push(Sec {
            name: name.to_string(),
            sh_type,
            flags,
            data: data.to_vec(),
            size,
            align,
        });
        self.sections.len()
    }

    /// Adds a symbol defined in `section` (or `SHN_*`) at `value`; returns its index.
    pub fn symbol(&mut self, name: &str, shndx: u16, value: u64, bind: Bind) -> u32 {
        let kind = match self.sections.get(usize::from(shndx).wrapping_sub(1)) {
            Some(s) if s.flags & u64::from(SHF_EXECINSTR) != 0 => STT_FUNC,
            Some(_) => STT_OBJECT,
            None => STT_NOTYPE,
        };
        self.full_symbol(name, shndx, value, 0, bind, kind, 0)
    }

    /// Adds a symbol with every field chosen.
    #[allow(clippy::too_many_arguments)]
    pub fn full_symbol(
        &mut self,
        name: &str,
        shndx: u16,
        value: u64,
        size: u64,
        bind: Bind,
        kind: u8,
        other: u8,
    ) -> u32 {
        self.syms.push(SymDef {
            name: name.to_string(),
            shndx,
            value,
            size,
            bind,
            kind,
            other,
        });
        (self.syms.len() - 1) as u32
    }

    /// Adds an undefined global symbol.
    pub fn undefined(&mut self, name: &str) -> u32 {
        self.symbol(name, 0, 0, Bind::Global)
    }

    /// Adds an undefined weak symbol.
    pub fn weak_undefined(&mut self, name: &str) -> u32 {
        self.symbol(name, 0, 0, Bind::Weak)
    }

    /// Adds a relocation of section `target`.
    pub fn rela(&mut self, target: usize, offset: u64, sym: u32, r_type: u32, addend: i64) {
        self.relas.push(RelaDef {
            target,
            offset,
            sym,
            r_type,
            addend,
        });
    }

    /// Writes the object.
    pub fn build(&self) -> Vec<u8> {
        let n_user = self.sections.len();
        let mut targets: Vec<usize> = self.relas.iter().map(|r| r.target).collect();
        targets.sort_unstable();
        targets.dedup();
        let symtab_index = 1 + n_user + targets.len();
        let strtab_index = symtab_index + 1;
        let shstrtab_index = symtab_index + 2;

        // String tables.
        let mut strtab = vec![0u8];
        let mut sym_names = Vec::new();
        for s in &self.syms {
            if s.name.is_empty() {
                sym_names.push(0u32);
            } else {
                sym_names.push(strtab.len() as u32);
                strtab.extend_from_slice(s.name.as_bytes());
                strtab.push(0);
            }
        }
        let mut shstrtab = vec![0u8];
        let mut add_name = |name: &str| {
            let off = shstrtab.len() as u32;
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
            off
        };

        // (name_off, type, flags, data, size, link, info, align, entsize)
        type Header = (u32, u32, u64, Vec<u8>, u64, u32, u32, u64, u64);
        let mut all: Vec<Header> = Vec::new();
        for s in &self.sections {
            all.push((
                add_name(&s.name),
                s.sh_type,
                s.flags,
                s.data.clone(),
                s.size,
                0,
                0,
                s.align,
                0,
            ));
        }
        for &t in &targets {
            let mut data = Vec::new();
            for r in self.relas.iter().filter(|r| r.target == t) {
                data.extend_from_slice(&r.offset.to_le_bytes());
                let info = (u64::from(r.sym) << 32) | u64::from(r.r_type);
                data.extend_from_slice(&info.to_le_bytes());
                data.extend_from_slice(&r.addend.to_le_bytes());
            }
            let name = format!(".rela{}", self.sections[t - 1].name);
            let len = data.len() as u64;
            all.push((
                add_name(&name),
                SHT_RELA,
                u64::from(SHF_INFO_LINK),
                data,
                len,
                symtab_index as u32,
                t as u32,
                8,
                24,
            ));
        }
        let mut symdata = Vec::new();
        let mut first_global = self.syms.len();
        for (i, s) in self.syms.iter().enumerate() {
            let bind = match s.bind {
                Bind::Local => STB_LOCAL,
                Bind::Global => STB_GLOBAL,
                Bind::Weak => STB_WEAK,
            };
            if bind != STB_LOCAL && first_global == self.syms.len() {
                first_global = i;
            }
            symdata.extend_from_slice(&sym_names[i].to_le_bytes());
            symdata.push((bind << 4) | s.kind);
            symdata.push(s.other);
            symdata.extend_from_slice(&s.shndx.to_le_bytes());
            symdata.extend_from_slice(&s.value.to_le_bytes());
            symdata.extend_from_slice(&s.size.to_le_bytes());
        }
        let len = symdata.len() as u64;
        all.push((
            add_name(".symtab"),
            SHT_SYMTAB,
            0,
            symdata,
            len,
            strtab_index as u32,
            first_global as u32,
            8,
            24,
        ));
        let len = strtab.len() as u64;
        all.push((add_name(".strtab"), SHT_STRTAB, 0, strtab, len, 0, 0, 1, 0));
        let name = add_name(".shstrtab");
        let len = shstrtab.len() as u64;
        all.push((name, SHT_STRTAB, 0, shstrtab, len, 0, 0, 1, 0));

        let mut out = vec![0u8; 64];
        let mut offsets = Vec::new();
        for sec in &all {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            offsets.push(out.len() as u64);
            if sec.1 != SHT_NOBITS {
                out.extend_from_slice(&sec.3);
            }
        }
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend_from_slice(&[0u8; 64]); // null section
        for (sec, off) in all.iter().zip(&offsets) {
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&sec.0.to_le_bytes());
            h.extend_from_slice(&sec.1.to_le_bytes());
            h.extend_from_slice(&sec.2.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
            h.extend_from_slice(&off.to_le_bytes());
            h.extend_from_slice(&sec.4.to_le_bytes());
            h.extend_from_slice(&sec.5.to_le_bytes());
            h.extend_from_slice(&sec.6.to_le_bytes());
            h.extend_from_slice(&sec.7.to_le_bytes());
            h.extend_from_slice(&sec.8.to_le_bytes());
            out.extend_from_slice(&h);
        }
        let shnum = (all.len() + 1) as u16;
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELFCLASS64
        out[5] = 1; // little endian
        out[6] = 1; // EV_CURRENT
        out[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        out[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        out[60..62].copy_from_slice(&shnum.to_le_bytes());
        out[62..64].copy_from_slice(&(shstrtab_index as u16).to_le_bytes());
        out
    }
}

/// Offset of section header `index` in an object's bytes.
pub fn shdr_offset(bytes: &[u8], index: usize) -> usize {
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    shoff + 64 * index
}

/// Index of the section named `name` in an object made by [`ElfBuilder`] or a compiler.
pub fn section_index(bytes: &[u8], name: &str) -> usize {
    let shnum = u16::from_le_bytes(bytes[60..62].try_into().unwrap()) as usize;
    let shstrndx = u16::from_le_bytes(bytes[62..64].try_into().unwrap()) as usize;
    let str_off = {
        let h = shdr_offset(bytes, shstrndx);
        u64::from_le_bytes(bytes[h + 24..h + 32].try_into().unwrap()) as usize
    };
    (0..shnum)
        .find(|&i| {
            let h = shdr_offset(bytes, i);
            let n = u32::from_le_bytes(bytes[h..h + 4].try_into().unwrap()) as usize;
            let s = &bytes[str_off + n..];
            let end = s.iter().position(|&b| b == 0).unwrap();
            &s[..end] == name.as_bytes()
        })
        .unwrap_or_else(|| panic!("no section {name}"))
}

/// Overwrites a little-endian field of `width` bytes at `off`.
pub fn poke(bytes: &mut [u8], off: usize, width: usize, value: u64) {
    bytes[off..off + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

/// Allocated image buffers for a layout, with chosen addresses.
#[derive(Debug)]
pub struct Buffers {
    pub text: Vec<u8>,
    pub rodata: Vec<u8>,
    pub data: Vec<u8>,
    pub text_va: u64,
    pub rodata_va: u64,
    pub data_va: u64,
}

impl Buffers {
    /// Buffers exactly as large as `layout`, at the given addresses. Filled with 0xAA so
    /// tests see that the link zeroes them.
    pub fn new(
        layout: &keel_modload::Layout,
        text_va: u64,
        rodata_va: u64,
        data_va: u64,
    ) -> Buffers {
        Buffers {
            text: vec![0xaa; layout.text],
            rodata: vec![0xaa; layout.rodata],
            data: vec![0xaa; layout.data],
            text_va,
            rodata_va,
            data_va,
        }
    }

    pub fn image(&mut self) -> keel_modload::Image<'_> {
        keel_modload::Image {
            text: &mut self.text,
            text_va: self.text_va,
            rodata: &mut self.rodata,
            rodata_va: self.rodata_va,
            data: &mut self.data,
            data_va: self.data_va,
        }
    }

    /// Reads a little-endian u32 at run-time address `va`.
    pub fn u32_at(&self, va: u64) -> u32 {
        let b = self.bytes_at(va, 4);
        u32::from_le_bytes(b.try_into().unwrap())
    }

    /// Reads a little-endian u64 at run-time address `va`.
    pub fn u64_at(&self, va: u64) -> u64 {
        let b = self.bytes_at(va, 8);
        u64::from_le_bytes(b.try_into().unwrap())
    }

    /// The bytes at run-time address `va`.
    pub fn bytes_at(&self, va: u64, len: usize) -> &[u8] {
        for (buf, base) in [
            (&self.text, self.text_va),
            (&self.rodata, self.rodata_va),
            (&self.data, self.data_va),
        ] {
            if va >= base && va + len as u64 <= base + buf.len() as u64 {
                let o = (va - base) as usize;
                return &buf[o..o + len];
            }
        }
        panic!("address {va:#x} is not in the image")
    }
}

/// Sign-extends the low `bits` bits of `v`.
pub fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// Target of a B/BL at `pc`.
pub fn decode_b(insn: u32, pc: u64) -> u64 {
    pc.wrapping_add((sext(u64::from(insn & 0x03ff_ffff), 26) * 4) as u64)
}

/// Target of a B.cond, CBZ/CBNZ or LDR (literal) at `pc`.
pub fn decode_imm19(insn: u32, pc: u64) -> u64 {
    pc.wrapping_add((sext(u64::from((insn >> 5) & 0x7ffff), 19) * 4) as u64)
}

/// Target of a TBZ/TBNZ at `pc`.
pub fn decode_tbz(insn: u32, pc: u64) -> u64 {
    pc.wrapping_add((sext(u64::from((insn >> 5) & 0x3fff), 14) * 4) as u64)
}

/// Result of an ADR (`page` false) or ADRP (`page` true) at `pc`.
pub fn decode_adr(insn: u32, pc: u64) -> u64 {
    let imm = (u64::from((insn >> 5) & 0x7ffff) << 2) | u64::from((insn >> 29) & 3);
    let imm = sext(imm, 21);
    if insn & 0x8000_0000 != 0 {
        (pc & !0xfff).wrapping_add((imm << 12) as u64)
    } else {
        pc.wrapping_add(imm as u64)
    }
}

/// The 12-bit immediate of an ADD (immediate) or LDR/STR (unsigned offset), unscaled.
pub fn decode_imm12(insn: u32) -> u64 {
    u64::from((insn >> 10) & 0xfff)
}

/// The 16-bit immediate of a MOVZ/MOVN/MOVK.
pub fn decode_imm16(insn: u32) -> u64 {
    u64::from((insn >> 5) & 0xffff)
}

/// The opcode of a wide move: "movn", "movz" or "movk".
pub fn movw_opc(insn: u32) -> &'static str {
    match (insn >> 29) & 3 {
        0 => "movn",
        2 => "movz",
        3 => "movk",
        _ => "?",
    }
}

/// Finds rustc: `$RUSTC` or `rustc` on `PATH`.
pub fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string())
}

/// A valid object using every group, local, global, hidden and undefined symbols and a mix
/// of relocations: the base for malformed-input and fuzz tests.
pub fn sample_object() -> Vec<u8> {
    use goblin::elf::reloc::*;
    let mut b = ElfBuilder::new();
    let code: Vec<u8> = [
        0x9000_0000u32, // adrp x0, table
        0x9100_0000,    // add x0, x0, :lo12:table
        0x9400_0000,    // bl kernel_print
        0x1400_0000,    // b helper
        0xf940_0000,    // ldr x0, [x0, :lo12:counter]
        0xd65f_03c0,    // ret
    ]
    .iter()
    .flat_map(|w| w.to_le_bytes())
    .collect();
    let text = b.section(".text.init", Kind::Text, &code, 4);
    let helper = b.section(".text.helper", Kind::Text, &0xd65f_03c0u32.to_le_bytes(), 4);
    let ro = b.section(".rodata.table", Kind::Rodata, b"keel\0module\0\0\0\0\0", 16);
    let data = b.section(".data.desc", Kind::Data, &[0; 24], 8);
    let bss = b.bss(".bss.counter", 64, 64);
    b.section(".comment", Kind::Other, b"hand-made\0", 1);
    let s_table = b.symbol("table", ro as u16, 0, Bind::Local);
    let s_helper = b.symbol("helper", helper as u16, 0, Bind::Local);
    let s_counter = b.symbol("counter", bss as u16, 8, Bind::Local);
    b.symbol("init_module", text as u16, 0, Bind::Global);
    b.full_symbol("__keel_module", data as u16, 0, 24, Bind::Global, 1, 0);
    b.full_symbol("private_helper", helper as u16, 0, 4, Bind::Global, 2, 2);
    let s_print = b.undefined("kernel_print");
    let s_opt = b.weak_undefined("kernel_optional");
    b.rela(text, 0, s_table, R_AARCH64_ADR_PREL_PG_HI21, 0);
    b.rela(text, 4, s_table, R_AARCH64_ADD_ABS_LO12_NC, 0);
    b.rela(text, 8, s_print, R_AARCH64_CALL26, 0);
    b.rela(text, 12, s_helper, R_AARCH64_JUMP26, 0);
    b.rela(text, 16, s_counter, R_AARCH64_LDST64_ABS_LO12_NC, 0);
    b.rela(data, 0, s_table, R_AARCH64_ABS64, 5);
    b.rela(data, 8, s_opt, R_AARCH64_ABS64, 0);
    b.rela(data, 16, s_print, R_AARCH64_PREL32, 0);
    b.rela(data, 20, s_helper, R_AARCH64_PREL32, 0);
    b.build()
}

/// The resolver that goes with [`sample_object`].
pub fn sample_resolver(name: &str) -> Option<u64> {
    match name {
        "kernel_print" => Some(0xffff_0000_1000_0000 - 0x4000_0000),
        _ => None,
    }
}

/// The target fixtures are compiled for.
pub const TARGET: &str = "aarch64-unknown-none-softfloat";

/// Compiles `tests/fixtures/<name>.rs` to an object with rustc, or returns `None` (after
/// saying so) if the target's standard library is not installed. Each fixture is compiled
/// once per test binary.
pub fn compile(name: &str) -> Option<Vec<u8>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Vec<u8>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A panicking test may poison the lock; the cache is still consistent.
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(name.to_string())
        .or_insert_with(|| compile_uncached(name))
        .clone()
}

fn compile_uncached(name: &str) -> Option<Vec<u8>> {
    use std::path::Path;
    use std::process::Command;
    let rustc = rustc();
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc");
    let sysroot = String::from_utf8(sysroot.stdout).unwrap();
    let libdir = Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET);
    if !libdir.exists() {
        eprintln!(
            "skipping: the {TARGET} target is not installed ({} missing)",
            libdir.display()
        );
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.rs"));
    // One output per process, so parallel test binaries do not race on the file.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("modload-{name}-{}.o", std::process::id()));
    let status = Command::new(&rustc)
        .args([
            "--target",
            TARGET,
            "--crate-type=lib",
            "--emit=obj",
            "-C",
            "opt-level=2",
        ])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
            "--edition=2021",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(status.success(), "rustc failed on {}", src.display());
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    Some(bytes)
}
