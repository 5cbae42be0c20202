// Reading class labels, int32 (LABEL_WORDS = 1) or int64 (LABEL_WORDS = 2, as two u32 words:
// WGSL has no 64-bit integers without an extension). An int64 label that does not fit in i32
// cannot be a class; the ignored label is compared word for word, so any int64 value works.
// Expects a `label_words: array<u32>` binding.

struct Label {
    index: i32,
    ignored: bool,
}

// `ignore` = 0: no label is ignored (sparse_categorical_cross_entropy without ignore_class).
fn read_label(at: u32, n: u32, ignore: u32, ignore_lo: u32, ignore_hi: u32) -> Label {
    let lo = label_words[at + LABEL_WORDS * n];
    var hi = select(0u, 0xffffffffu, i32(lo) < 0);
    if LABEL_WORDS == 2u {
        hi = label_words[at + 2u * n + 1u];
    }
    let fits = hi == select(0u, 0xffffffffu, i32(lo) < 0);
    // Not an i32: a class no row can have.
    let index = select(-1, i32(lo), fits);
    return Label(index, ignore != 0u && lo == ignore_lo && hi == ignore_hi);
}
