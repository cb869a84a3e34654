//! The UniFFI bindings generator, built from the same UniFFI version as the library.
//!
//! `cargo run -p giaoban-ffi --bin uniffi-bindgen -- generate --library <libgiaoban_ffi.so>
//! --language kotlin --out-dir <dir>`; `scripts/bindings.sh` runs it for every language.

fn main() {
    uniffi::uniffi_bindgen_main()
}
