//! Changes a device pushes to a realistic report owned by a ward: anything `check_push`
//! accepts is a valid report of the same header, written by the pushing device, and pushing it
//! again changes nothing.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: {
        // check_push catches panics inside Automerge and refuses the push; libFuzzer's hook would
        // abort on those caught panics, so the default hook is restored. A panic that escapes
        // still aborts the run (libfuzzer-sys checks every input's outcome).
        drop(std::panic::take_hook());
    },
    |data: &[u8]| giaoban_fuzz::check_push(data)
);
