//! Any bytes the relay (or a device) receives as a frame: a typed error or a message that
//! encodes back to itself; never a panic, a hang or an allocation beyond the frame limit.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| giaoban_fuzz::wire_decode(data));
