//! How a kernel reads and writes one tensor of a given dtype: its binding's declaration and
//! `load_NAME` / `store_NAME` functions, emitted per variant so one WGSL body serves f32, f16
//! and bf16 (shaders/halves.wgsl widens and rounds). Halves are two to a u32 word: the vector
//! variant moves four of them as a `vec2<u32>` (element offsets a multiple of 4), the scalar
//! one a word at a time, writing its half of a word with atomicAnd/atomicOr so that
//! neighbouring invocations (or a caller's neighbouring data) keep theirs.

use crate::tensor::DType;

/// The dtypes of an elementwise call's tensors (part of the kernel's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Dtypes {
    pub x: DType,
    pub y: DType,
    pub w: DType,
    pub aux: DType,
    pub out: DType,
    pub grad: DType,
}

impl Default for Dtypes {
    fn default() -> Self {
        Dtypes {
            x: DType::F32,
            y: DType::F32,
            w: DType::F32,
            aux: DType::F32,
            out: DType::F32,
            grad: DType::F32,
        }
    }
}

/// Bytes a tensor's element offset must be a multiple of for the vector variant.
pub(crate) fn vec4_alignment(dtype: DType) -> u64 {
    if dtype.is_half() {
        8
    } else {
        16
    }
}

fn suffix(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bf16",
        _ => "f16",
    }
}

/// `load_NAME(at, i) -> VT`: VT number `i` after element `at` of the binding (`at` a
/// multiple of VEC), and `elem_NAME(j) -> f32`: element `j`.
pub(crate) fn reader(name: &str, binding: u32, dtype: DType, vec4: bool) -> String {
    let ty = match (dtype.is_half(), vec4) {
        (false, _) => "VT",
        (true, true) => "vec2<u32>",
        (true, false) => "u32",
    };
    format!("@group(0) @binding({binding}) var<storage, read> {name}_buf: array<{ty}>;\n")
        + &loads(
            name,
            "load",
            "elem",
            dtype,
            vec4,
            &format!("{name}_buf[{{}}]"),
        )
}

/// The load functions `{load}_NAME` and `{elem}_NAME` of a binding whose word `k` is
/// `word` with `{}` replaced by k.
fn loads(name: &str, load: &str, elem: &str, dtype: DType, vec4: bool, word: &str) -> String {
    let w = |k: &str| word.replace("{}", k);
    let h = suffix(dtype);
    match (dtype.is_half(), vec4) {
        (false, _) => format!(
            "fn {load}_{name}(at: u32, i: u32) -> VT {{ return {}; }}\n\
             fn {elem}_{name}(j: u32) -> f32 {{ return lane({}, j % VEC); }}\n",
            w("at / VEC + i"),
            w("j / VEC"),
        ),
        (true, true) => format!(
            "fn {load}_{name}(at: u32, i: u32) -> VT {{\n    let w = {};\n    \
             return VT(unpack_{h}(w.x), unpack_{h}(w.y));\n}}\n\
             fn {elem}_{name}(j: u32) -> f32 {{ return unpack_{h}({}[(j >> 1u) & 1u])[j & 1u]; }}\n",
            w("at / 4u + i"),
            w("j >> 2u"),
        ),
        (true, false) => format!(
            "fn {load}_{name}(at: u32, i: u32) -> VT {{ return {elem}_{name}(at + i); }}\n\
             fn {elem}_{name}(j: u32) -> f32 {{ return unpack_{h}({})[j & 1u]; }}\n",
            w("j >> 1u"),
        ),
    }
}

/// `load_NAME(j) -> f32`: element `j` of the binding (a gathered tensor).
pub(crate) fn gatherer(name: &str, binding: u32, dtype: DType) -> String {
    let h = suffix(dtype);
    if dtype.is_half() {
        format!(
            "@group(0) @binding({binding}) var<storage, read> {name}_buf: array<u32>;\n\
             fn load_{name}(j: u32) -> f32 {{ return unpack_{h}({name}_buf[j >> 1u])[j & 1u]; }}\n"
        )
    } else {
        format!(
            "@group(0) @binding({binding}) var<storage, read> {name}_buf: array<f32>;\n\
             fn load_{name}(j: u32) -> f32 {{ return {name}_buf[j]; }}\n"
        )
    }
}

/// `store_NAME(at, i, v: VT)`: writes VT number `i` after element `at`, rounded to the
/// dtype; `reload_NAME(at, i)` and `relem_NAME(j)` read the binding back (a gradient written
/// over the logits it is computed from).
pub(crate) fn writer(name: &str, binding: u32, dtype: DType, vec4: bool) -> String {
    let decl = |ty: &str| {
        format!("@group(0) @binding({binding}) var<storage, read_write> {name}_buf: array<{ty}>;\n")
    };
    let h = suffix(dtype);
    let word = match (dtype.is_half(), vec4) {
        (true, false) => format!("atomicLoad(&{name}_buf[{{}}])"),
        _ => format!("{name}_buf[{{}}]"),
    };
    let reload = loads(name, "reload", "relem", dtype, vec4, &word);
    reload
        + &match (dtype.is_half(), vec4) {
            (false, _) => {
                decl("VT")
                    + &format!(
                    "fn store_{name}(at: u32, i: u32, v: VT) {{ {name}_buf[at / VEC + i] = v; }}\n"
                )
            }
            (true, true) => {
                decl("vec2<u32>")
                    + &format!(
                    "fn store_{name}(at: u32, i: u32, v: VT) {{\n    let b = {h}_bits(v);\n    \
                 {name}_buf[at / 4u + i] = vec2<u32>(b.x | (b.y << 16u), b.z | (b.w << 16u));\n}}\n"
                )
            }
            (true, false) => decl("atomic<u32>") + &put_half(name, "store", h, "at + i, v: VT"),
        }
}

/// `put_NAME(j, v: f32)`: writes element `j` alone (per-row losses).
pub(crate) fn scatterer(name: &str, binding: u32, dtype: DType) -> String {
    let decl = |ty: &str| {
        format!("@group(0) @binding({binding}) var<storage, read_write> {name}_buf: array<{ty}>;\n")
    };
    if dtype.is_half() {
        decl("atomic<u32>") + &put_half(name, "put", suffix(dtype), "j, v: f32")
    } else {
        decl("f32") + &format!("fn put_{name}(j: u32, v: f32) {{ {name}_buf[j] = v; }}\n")
    }
}

/// A store of one half into its word: clear our 16 bits, then set them, each atomically, so
/// the word's other half (another invocation's, or data beside the tensor) is never touched.
/// `args` is the element's index expression, then the value's parameter.
fn put_half(name: &str, verb: &str, h: &str, args: &str) -> String {
    let (index, value) = args.split_once(", ").expect("index, value");
    let params = match verb {
        "store" => format!("at: u32, i: u32, {value}"),
        _ => format!("j: u32, {value}"),
    };
    format!(
        "fn {verb}_{name}({params}) {{\n    let e = {index};\n    \
         let shift = (e & 1u) * 16u;\n    \
         atomicAnd(&{name}_buf[e >> 1u], ~(0xffffu << shift));\n    \
         atomicOr(&{name}_buf[e >> 1u], {h}_bits(vec4<f32>(v)).x << shift);\n}}\n"
    )
}

/// Access by step (the elementwise kernel, cross_entropy's logits): `loadn_NAME(at, g) ->
/// array<VT, UNROLL>`, VTs g·UNROLL .. g·UNROLL + UNROLL - 1 after element `at`, and
/// `elem_NAME(j)` for halves read so. `pairs` (UNROLL = 2, vector variant) moves eight halves
/// as one `vec4<u32>` (`at` a multiple of 8) and f32 as two `vec4<f32>`; otherwise it is
/// `load_NAME`'s one VT. `native_f16` reads f16 as WGSL `f16` (widening is exact either way).
pub(crate) fn step_reader(
    name: &str,
    binding: u32,
    dtype: DType,
    vec4: bool,
    pairs: bool,
    native_f16: bool,
) -> String {
    if native_f16 && dtype == DType::F16 {
        let ty = if vec4 { "vec4<f16>" } else { "f16" };
        // Through halves.wgsl's widen_zero, as unpack_f16 (which says why).
        let w = |k: &str| format!("(VT({name}_buf[{k}]) - VT(widen_zero))");
        let steps = if pairs {
            format!("{}, {}", w("at / 4u + 2u * g"), w("at / 4u + 2u * g + 1u"))
        } else {
            w("at / VEC + g")
        };
        return format!(
            "@group(0) @binding({binding}) var<storage, read> {name}_buf: array<{ty}>;\n\
             fn loadn_{name}(at: u32, g: u32) -> array<VT, UNROLL> {{ \
             return array<VT, UNROLL>({steps}); }}\n"
        );
    }
    if !pairs {
        return reader(name, binding, dtype, vec4)
            + &format!(
                "fn loadn_{name}(at: u32, g: u32) -> array<VT, UNROLL> {{ \
                 return array<VT, UNROLL>(load_{name}(at, g)); }}\n"
            );
    }
    let ty = if dtype.is_half() { "vec4<u32>" } else { "VT" };
    let mut s =
        format!("@group(0) @binding({binding}) var<storage, read> {name}_buf: array<{ty}>;\n")
            + &pair_load(name, "loadn", dtype);
    if dtype.is_half() {
        // One element from the same words (cross_entropy's x[y]).
        s += &format!(
            "fn elem_{name}(j: u32) -> f32 {{ \
             return unpack_{h}({name}_buf[j >> 3u][(j >> 1u) & 3u])[j & 1u]; }}\n",
            h = suffix(dtype)
        );
    }
    s
}

/// `storen_NAME(at, g, v: array<VT, UNROLL>)` and `reloadn_NAME(at, g)`: `step_reader`'s
/// writing side, rounded to the dtype.
pub(crate) fn step_writer(
    name: &str,
    binding: u32,
    dtype: DType,
    vec4: bool,
    pairs: bool,
) -> String {
    if !pairs {
        return writer(name, binding, dtype, vec4)
            + &format!(
                "fn storen_{name}(at: u32, g: u32, v: array<VT, UNROLL>) {{ store_{name}(at, g, v[0]); }}\n\
                 fn reloadn_{name}(at: u32, g: u32) -> array<VT, UNROLL> {{ \
                 return array<VT, UNROLL>(reload_{name}(at, g)); }}\n"
            );
    }
    let decl = |ty: &str| {
        format!("@group(0) @binding({binding}) var<storage, read_write> {name}_buf: array<{ty}>;\n")
    };
    let store = if dtype.is_half() {
        decl("vec4<u32>")
            + &format!(
                "fn storen_{name}(at: u32, g: u32, v: array<VT, UNROLL>) {{\n    \
                 let a = {h}_bits(v[0]);\n    let b = {h}_bits(v[1]);\n    \
                 {name}_buf[at / 8u + g] = vec4<u32>(a.x | (a.y << 16u), a.z | (a.w << 16u), \
                 b.x | (b.y << 16u), b.z | (b.w << 16u));\n}}\n",
                h = suffix(dtype)
            )
    } else {
        decl("VT")
            + &format!(
                "fn storen_{name}(at: u32, g: u32, v: array<VT, UNROLL>) {{\n    \
                 {name}_buf[at / 4u + 2u * g] = v[0];\n    \
                 {name}_buf[at / 4u + 2u * g + 1u] = v[1];\n}}\n"
            )
    };
    store + &pair_load(name, "reloadn", dtype)
}

/// A pair step's load function `{verb}_NAME` from `NAME_buf`.
fn pair_load(name: &str, verb: &str, dtype: DType) -> String {
    if dtype.is_half() {
        let h = suffix(dtype);
        format!(
            "fn {verb}_{name}(at: u32, g: u32) -> array<VT, UNROLL> {{\n    \
             let w = {name}_buf[at / 8u + g];\n    \
             return array<VT, UNROLL>(VT(unpack_{h}(w.x), unpack_{h}(w.y)), \
             VT(unpack_{h}(w.z), unpack_{h}(w.w)));\n}}\n"
        )
    } else {
        format!(
            "fn {verb}_{name}(at: u32, g: u32) -> array<VT, UNROLL> {{\n    \
             return array<VT, UNROLL>({name}_buf[at / 4u + 2u * g], {name}_buf[at / 4u + 2u * g + 1u]);\n}}\n"
        )
    }
}
