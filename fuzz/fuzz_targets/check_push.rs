//! Changes a device pushes to a realistic report owned by a ward: anything `check_push`
//! accepts is a valid report of the same header, written by the pushing device, and pushing it
//! again changes nothing.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| giaoban_fuzz::check_push(data));
