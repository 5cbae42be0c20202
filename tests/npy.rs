//! The `.npy` reader on hostile files: deep nesting, overflowing shapes, headers and data of
//! the wrong length. Each is a one-line error, found fast, with nothing allocated by what the
//! header claims. Also replays the fuzz corpus (fuzz/corpus/npy_read) through the fuzz
//! target's entry point, so a crash once found stays fixed.

use gpu_loss::npy::{self, Array, Values};
use gpu_loss::LossError;
use std::time::{Duration, Instant};

/// A version 1.0 file with this header text (padded as NumPy pads it) and data.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    let pad = (64 - (10 + h.len() + 1) % 64) % 64;
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h);
    out.extend(data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The error's text; it must be one line and come back fast.
fn refused(bytes: &[u8]) -> String {
    let started = Instant::now();
    let e = Array::from_bytes(bytes).expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(1), "{e}");
    let text = e.to_string();
    assert!(matches!(e, LossError::File { .. }), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    text
}

#[test]
fn reads_what_numpy_writes() {
    let two = f32_bytes(&[1.0, 2.0]);
    for header in [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
        "{'shape': (2L,), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}",
    ] {
        let a = Array::from_bytes(&file(header, &two)).unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(a.floats(), [1.0, 2.0], "{header}");
        assert_eq!(a.dtype, "<f4");
    }
    let scalar = file(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
        &7i64.to_le_bytes(),
    );
    let a = Array::from_bytes(&scalar).unwrap();
    assert_eq!(
        (a.shape.as_slice(), a.values),
        (&[][..], Values::Int(vec![7]))
    );
    let empty = file(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }",
        &[],
    );
    assert_eq!(Array::from_bytes(&empty).unwrap().shape, [0, 3]);
    // Version 2.0: a four-byte header length.
    let mut v2 = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        &two,
    );
    v2[6] = 2;
    v2.splice(8..10, [v2[8], v2[9], 0, 0]);
    assert_eq!(Array::from_bytes(&v2).unwrap().floats(), [1.0, 2.0]);
}

#[test]
fn writes_what_it_reads() {
    let dir = std::env::temp_dir().join(format!("gpu-loss-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.npy");
    for shape in [&[][..], &[3], &[1, 3], &[3, 1, 1]] {
        let data: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| i as f32 - 0.5)
            .collect();
        npy::write_f32(&path, shape, &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            (bytes.len() - 4 * data.len()) % 64,
            0,
            "the header is padded"
        );
        let a = Array::read(&path).unwrap();
        assert_eq!(a.shape, shape);
        assert_eq!(a.f32s(), data);
    }
    npy::write_f64(&path, &[2], &[0.1, -3.0]).unwrap();
    assert_eq!(Array::read(&path).unwrap().floats(), [0.1, -3.0]);
    let e = npy::write_f32(&path, &[3], &[1.0]).unwrap_err().to_string();
    assert!(e.contains("1 values for shape [3]"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn deep_nesting_is_refused_at_once() {
    // npyz's parser took exponential time in the depth: 25 levels ran for minutes.
    let deep = |open: &str, close: &str| open.repeat(25) + &close.repeat(25);
    let cases = [
        format!(
            "{{'descr': {}, 'fortran_order': False, 'shape': (1,), }}",
            deep("[", "]")
        ),
        format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}",
            deep("(", ")")
        ),
        format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': {}}}",
            deep("{", "}")
        ),
    ];
    for header in cases {
        let e = refused(&file(&header, &f32_bytes(&[1.0])));
        assert!(e.contains("not a .npy file (header:"), "{e}");
    }
    let structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
    assert!(refused(&file(structured, &[0; 4])).contains("structured dtype"));
}

#[test]
fn element_counts_that_overflow_are_refused() {
    // (2**63 + 1) * 2 * 4 bytes wraps around to 8: it held two values and was accepted.
    let h = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, 2), }}",
        (1u64 << 63) + 1
    );
    assert!(refused(&file(&h, &f32_bytes(&[1.0, 2.0]))).contains("more elements than fit"));
    let too_long =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }";
    assert!(refused(&file(too_long, &[])).contains("too large"));
    let many = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}",
        "1, ".repeat(65)
    );
    assert!(refused(&file(&many, &[0; 4])).contains("more than 64 dimensions"));
}

#[test]
fn data_must_be_as_long_as_the_header_says() {
    // 2**32 x 2**32 float32 with no data was accepted; nothing may be allocated for it.
    let huge = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({0}, {0}), }}",
        1u64 << 32
    );
    let e = refused(&file(&huge, &[]));
    assert!(
        e.contains("0 bytes of data") || e.contains("more elements"),
        "{e}"
    );
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    assert!(refused(&file(h, &f32_bytes(&[1.0, 2.0]))).contains("8 bytes of data"));
    assert!(refused(&file(h, &f32_bytes(&[1.0; 4]))).contains("16 bytes of data"));
    let (ok, mut longer) = (
        file(h, &f32_bytes(&[1.0; 3])),
        file(h, &f32_bytes(&[1.0; 3])),
    );
    assert!(Array::from_bytes(&ok).is_ok());
    longer.push(0);
    refused(&longer);
}

#[test]
fn broken_headers_are_one_line() {
    let mut long = file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
        &[],
    );
    long[6] = 2;
    long.splice(8..10, [0xff, 0xff, 0xff, 0x7f]);
    let cases: Vec<Vec<u8>> = vec![
        b"this is not a numpy file".to_vec(),
        b"\x93NUMPY".to_vec(),
        b"\x93NUMPY\x09\x00\x00\x00".to_vec(),
        long,
        file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ",
            &[],
        ),
        file("{'descr': '<f4', 'fortran_order': False}", &[]),
        file(
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}",
            &[],
        ),
        file(
            "{'descr': '<u1', 'fortran_order': False, 'shape': (1,), }",
            &[0],
        ),
        file(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
            &[0; 4],
        ),
        file(
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (-1,), }",
            &[0; 4],
        ),
        file(
            "{'descr': '<f4\\', 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        ),
    ];
    for bytes in cases {
        refused(&bytes);
    }
}

/// Every file of the fuzz corpus through the fuzz target's entry point: no panic, no hang.
#[test]
fn the_fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/npy_read");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus is committed") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        if let Err(e) = Array::from_bytes(&bytes) {
            assert_eq!(e.to_string().lines().count(), 1, "{}: {e}", path.display());
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 5, "{seen} files in {}", dir.display());
}
