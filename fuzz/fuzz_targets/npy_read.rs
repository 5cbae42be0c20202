//! Any bytes as a `.npy` file: an array or a one-line error, never a panic, a hang or an
//! allocation sized by what the header claims. tests/npy.rs replays the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = gpu_loss::npy::Array::from_bytes(data) {
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
    }
});
