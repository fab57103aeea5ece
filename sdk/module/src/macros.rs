//! The declaration macros: [`module!`](crate::module), [`export!`](crate::export) and
//! [`import!`](crate::import).

/// Declares a module: its `.modinfo` metadata, its parameters, and the `__keel_module` descriptor
/// with its `init` and `exit` functions. Use it once, in the crate root.
///
/// Every field is required and in this order (`pci` and `pci_class` may be left out). Parameter types are `bool`,
/// `i64`, `u64`, `u32` and `str`; each parameter gets a function `params::NAME()` that returns its
/// value (`&'static str` for `str`). Defaults are literals (or constant expressions). `init` is a
/// `fn() -> Result<(), keel_module::Error>`, `exit` a `fn()`.
///
/// ```ignore
/// keel_module::module! {
///     name: "uart-pl011",
///     version: "0.1.0",
///     license: "MIT OR Apache-2.0",
///     author: "Keel",
///     description: "Arm PrimeCell UART (PL011)",
///     depends: [],
///     compatible: ["arm,pl011"],
///     pci: [],
///     pci_class: [],
///     params: {
///         baud: u32 = 115200 => "line speed in bit/s",
///         echo: bool = false => "echo received characters",
///     },
///     init: init,
///     exit: exit,
/// }
/// # fn init() -> keel_module::Result { Ok(()) }
/// # fn exit() {}
/// ```
#[macro_export]
macro_rules! module {
    (
        name: $name:literal,
        version: $version:literal,
        license: $license:literal,
        author: $author:literal,
        description: $description:literal,
        depends: [$($dep:literal),* $(,)?],
        compatible: [$($compat:literal),* $(,)?],
        $(pci: [$($pci:literal),* $(,)?],)?
        $(pci_class: [$($pci_class:literal),* $(,)?],)?
        params: { $($pname:ident : $pkind:ident = $pdefault:expr => $pdesc:literal),* $(,)? },
        init: $init:path,
        exit: $exit:path $(,)?
    ) => {
        /// The module's parameters: the values given to `insmod`, or their defaults.
        #[allow(dead_code)]
        pub mod params {
            /// The parameters' storage, written by the kernel before `init`.
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            pub mod storage {
                $(
                    pub static $pname: $crate::param::Param<$crate::__param_type!($pkind)> =
                        $crate::param::Param::new($crate::__param_storage!($pkind, $pdefault));
                )*
            }
            $(
                #[doc = $pdesc]
                pub fn $pname() -> $crate::__param_type!($pkind) {
                    storage::$pname.get()
                }
            )*
        }

        const _: () = {
            use $crate::__private::keel_abi;
            use keel_abi::module::{ModuleDescriptor, ModuleHandle, ParamDesc, StrRef};

            keel_abi::modinfo::build::check_module_name($name);
            $crate::__modinfo!("name=", $name);
            $crate::__modinfo!("version=", $version);
            $crate::__modinfo!("license=", $license);
            $crate::__modinfo!("author=", $author);
            $crate::__modinfo!("description=", $description);
            $crate::__modinfo!("abi=", keel_abi::module::ABI_VERSION_TEXT);
            $crate::__modinfo!("vermagic=", keel_abi::module::VERMAGIC);
            $(keel_abi::modinfo::build::check_module_name($dep);)*
            const DEPENDS: &[&str] = &[$($dep),*];
            #[used]
            #[link_section = ".modinfo"]
            static DEPENDS_ENTRY: [u8; keel_abi::modinfo::build::list_len("depends=", DEPENDS)] =
                keel_abi::modinfo::build::list("depends=", DEPENDS);
            $(
                const _: () = keel_abi::modinfo::build::check_lacks(
                    $crate::__param_default_text!($pkind, $pdefault),
                    b':',
                );
                $crate::__modinfo!(
                    "parm=",
                    ::core::stringify!($pname),
                    ":",
                    <$crate::__param_type!($pkind) as $crate::param::ParamType>::KIND.name(),
                    ":",
                    $crate::__param_default_text!($pkind, $pdefault),
                    ":",
                    $pdesc,
                );
            )*
            $($crate::__modinfo!("compatible=", $compat);)*
            $($(
                keel_abi::modinfo::build::check_pci($pci);
                $crate::__modinfo!("pci=", $pci);
            )*)?
            $($(
                keel_abi::modinfo::build::check_pci_class($pci_class);
                $crate::__modinfo!("pci_class=", $pci_class);
            )*)?

            const PARAM_NAMES: &[&str] = &[$(::core::stringify!($pname)),*];
            static PARAMS: [ParamDesc; PARAM_NAMES.len()] = [$(
                ParamDesc {
                    name: StrRef::new(::core::stringify!($pname)),
                    kind: <$crate::__param_type!($pkind) as $crate::param::ParamType>::KIND as u32,
                    flags: 0,
                    storage: params::storage::$pname.storage(),
                },
            )*];

            // Named so that they cannot shadow the module's own `init`/`exit` paths.
            extern "C" fn __keel_init(module: ModuleHandle) -> i32 {
                $crate::rt::run_init(module, $name, $init)
            }

            extern "C" fn __keel_exit() {
                $crate::rt::run_exit($exit)
            }

            /// The module's runtime descriptor, found by the loader under this symbol name.
            #[no_mangle]
            #[used]
            static __keel_module: ModuleDescriptor = ModuleDescriptor {
                magic: keel_abi::module::DESCRIPTOR_MAGIC,
                abi_version: keel_abi::ABI_VERSION,
                size: ::core::mem::size_of::<ModuleDescriptor>() as u32,
                param_count: PARAMS.len() as u32,
                name: StrRef::new($name),
                init: __keel_init,
                exit: __keel_exit,
                params: PARAMS.as_ptr(),
            };
        };
    };
}

/// One `.modinfo` entry made of string constants.
#[doc(hidden)]
#[macro_export]
macro_rules! __modinfo {
    ($($part:expr),+ $(,)?) => {
        const _: () = {
            const PARTS: &[&str] = &[$($part),+];
            #[used]
            #[link_section = ".modinfo"]
            static ENTRY: [u8; $crate::__private::keel_abi::modinfo::build::entry_len(PARTS)] =
                $crate::__private::keel_abi::modinfo::build::entry(PARTS);
        };
    };
}

/// The Rust type of a parameter kind.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_type {
    (bool) => { bool };
    (i64) => { i64 };
    (u64) => { u64 };
    (u32) => { u32 };
    (str) => { &'static str };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "a module parameter's type is bool, i64, u64, u32 or str, not `",
            ::core::stringify!($other),
            "`"
        ))
    };
}

/// The initial storage value of a parameter.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_storage {
    (bool, $default:expr) => {
        $crate::param::bool_storage($default)
    };
    (str, $default:expr) => {
        $crate::param::str_storage($default)
    };
    ($kind:ident, $default:expr) => {
        $default
    };
}

/// The default value as `.modinfo` text.
#[doc(hidden)]
#[macro_export]
macro_rules! __param_default_text {
    (str, $default:expr) => {
        $default
    };
    ($kind:ident, $default:expr) => {
        ::core::stringify!($default)
    };
}

/// Exports functions to other modules, like Linux's `EXPORT_SYMBOL`: each becomes an unmangled
/// `extern "C"` function, and its name and signature hash go into the module's `.keel.exports`
/// section. Only functions exported this way can be imported by other modules.
///
/// Names must be unique among all modules and the kernel; prefix them with the module's name.
///
/// ```ignore
/// keel_module::export! {
///     /// Greatest common divisor of `a` and `b`.
///     pub fn mathcore_gcd(a: u64, b: u64) -> u64 {
///         if b == 0 { a } else { mathcore_gcd(b, a % b) }
///     }
/// }
/// ```
#[macro_export]
macro_rules! export {
    () => {};
    (
        $(#[$meta:meta])*
        pub fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? $body:block
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        #[no_mangle]
        pub extern "C" fn $name($($arg: $ty),*) $(-> $ret)? $body

        const _: () = {
            use $crate::__private::keel_abi;
            #[used]
            #[link_section = ".keel.exports"]
            static RECORD: keel_abi::signature::SymbolSignature =
                keel_abi::signature::SymbolSignature::new(
                    ::core::stringify!($name),
                    keel_abi::__signature_hash!($name($($ty),*) $(-> $ret)?),
                );
        };

        $crate::export!($($rest)*);
    };
}

/// Imports functions another module exports with [`export!`]: each becomes a Rust function of the
/// same name that calls the other module, and its name and signature hash go into `.keel.imports`,
/// so the loader refuses the module if the provider's signature differs. List the provider in
/// `depends` so that it is loaded first.
///
/// Write the declaration exactly as the provider exports it (parameter names may differ). Declare
/// it `unsafe fn` if the function has preconditions the caller must uphold (raw pointers, say);
/// a plain `fn` is callable from safe code.
///
/// ```ignore
/// keel_module::import! {
///     /// Greatest common divisor, from `mathcore`.
///     pub fn mathcore_gcd(a: u64, b: u64) -> u64;
/// }
///
/// let g = mathcore_gcd(12, 18);
/// ```
#[macro_export]
macro_rules! import {
    () => {};
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ;
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            $crate::__import_record!($name($($ty),*) $(-> $ret)?);
            extern "C" {
                fn $name($($arg: $ty),*) $(-> $ret)?;
            }
            // SAFETY: the loader resolves this symbol only to an `export!`ed function whose
            // signature hash equals the one recorded above, and the declaration has no
            // preconditions (otherwise it would be declared `unsafe fn`).
            unsafe { $name($($arg),*) }
        }

        $crate::import!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        $vis:vis unsafe fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ;
        $($rest:tt)*
    ) => {
        $(#[$meta])*
        ///
        /// # Safety
        /// See the providing module's documentation of this function.
        $vis unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
            $crate::__import_record!($name($($ty),*) $(-> $ret)?);
            extern "C" {
                fn $name($($arg: $ty),*) $(-> $ret)?;
            }
            // SAFETY: the signature is checked by the loader (see the safe form); the caller
            // upholds the function's own preconditions.
            unsafe { $name($($arg),*) }
        }

        $crate::import!($($rest)*);
    };
}

/// The `.keel.imports` record of one imported function.
#[doc(hidden)]
#[macro_export]
macro_rules! __import_record {
    ($name:ident ( $($ty:ty),* ) $(-> $ret:ty)?) => {
        const _: () = {
            use $crate::__private::keel_abi;
            #[used]
            #[link_section = ".keel.imports"]
            static RECORD: keel_abi::signature::SymbolSignature =
                keel_abi::signature::SymbolSignature::new(
                    ::core::stringify!($name),
                    keel_abi::__signature_hash!($name($($ty),*) $(-> $ret)?),
                );
        };
    };
}
