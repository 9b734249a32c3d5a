//! Gives the `cdylib` Cargo builds (`target/*/librostree_ffi.so`) the soname of the
//! installed library, `librostree.so.0`.
//!
//! The version script `rostree.map` (only `rostree_*` exported, under `ROSTREE_0`) is not
//! passed here: rustc links every cdylib with a version script of its own that exports all
//! `#[no_mangle]` symbols of every crate unversioned (libbz2-rs-sys's among them), and the
//! linker keeps the first assignment of a symbol. `install.sh` links `librostree.so` from
//! the static library with `rostree.map` alone instead.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librostree.so.0");
}
