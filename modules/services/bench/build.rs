//! Links the programs with 4 KiB segment alignment (the default, 64 KiB, pads the files).
fn main() {
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}
