//! Assembles a kernel's WGSL: configuration constants, then the shared pieces, then the
//! template. Everything that changes the code is in the config (and so in the pipeline key);
//! everything that does not (loss parameters, sizes) goes in the uniform. Numbers the host and
//! the shaders share (status slots, scratch layout, cross-entropy modes, ROW_CACHE) are written
//! here from their Rust definitions, never typed in WGSL.

use super::storage::{self, Dtypes};
use crate::catalogue::Elementwise;
use crate::params::Rule;
use crate::status::{CHECKS, SCRATCH_NORMS, STATUS_WORDS};
use crate::tensor::DType;
use crate::tuning::{Layout, Tuning};
use std::fmt::Debug;

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const REDUCE: &str = include_str!("../../shaders/reduce.wgsl");
const SCRATCH: &str = include_str!("../../shaders/scratch.wgsl");
const TREE_SHARED: &str = include_str!("../../shaders/tree_shared.wgsl");
const WALK: &str = include_str!("../../shaders/walk.wgsl");
const TREE_SUBGROUP: &str = include_str!("../../shaders/tree_subgroup.wgsl");
const VARIANT_VEC4: &str = include_str!("../../shaders/variant_vec4.wgsl");
const VARIANT_SCALAR: &str = include_str!("../../shaders/variant_scalar.wgsl");
const MATH: &str = include_str!("../../shaders/math.wgsl");
const HALVES: &str = include_str!("../../shaders/halves.wgsl");
const LABELS: &str = include_str!("../../shaders/labels.wgsl");
const ROW_REDUCE: &str = include_str!("../../shaders/row_reduce.wgsl");
const ROW_LOSSES: &str = include_str!("../../shaders/row_losses.wgsl");
const ROW_TUPLE_LOSSES: &str = include_str!("../../shaders/row_tuple_losses.wgsl");

/// The launch settings that change a kernel's code (the rest of `Tuning` does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CodeConfig {
    pub workgroup_size: u32,
    pub layout: Layout,
    pub subgroups: bool,
}

impl From<&Tuning> for CodeConfig {
    fn from(t: &Tuning) -> Self {
        CodeConfig {
            workgroup_size: t.workgroup_size,
            layout: t.layout,
            subgroups: t.subgroups,
        }
    }
}

/// One compiled variant of the elementwise kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ElementConfig {
    /// The entry (its address: a custom loss's is one per generated source).
    pub loss: &'static Elementwise,
    pub code: CodeConfig,
    pub vec4: bool,
    /// Two VTs a step, halves eight to a `vec4<u32>` (vector variant, 16-byte aligned tensors).
    pub pairs: bool,
    /// f16 inputs, targets and weights read as WGSL `f16` (`Tuning::native_f16`).
    pub native_f16: bool,
    pub has_weight: bool,
    pub has_aux: bool,
    pub aux_broadcast: bool,
    pub write_out: bool,
    pub write_grad: bool,
    /// The gradient is added to what the tensor holds (an objective's later term on an input).
    pub add_grad: bool,
    /// The loss's on/off parameters (`Rule::Bool`), bit i for `params[i]`: built into
    /// `loss_fn` as literals, as a CPU driver runs both sides of a branch on them.
    pub switches: u8,
    pub dtypes: Dtypes,
}

pub(super) fn prelude(tuning: &CodeConfig) -> String {
    // Naga takes subgroup builtins without `enable subgroups;` (and rejects the directive);
    // the device's SUBGROUP feature is what allows them.
    let mut s = String::new();
    let (blocked, lanes) = match tuning.layout {
        Layout::GridStride => (false, 1),
        Layout::Blocked { lanes } => (true, lanes),
    };
    s.push_str(&format!(
        "const WG_SIZE: u32 = {}u;\nconst BLOCKED: bool = {blocked};\nconst LANES: u32 = {lanes}u;\n",
        tuning.workgroup_size
    ));
    s.push_str(&scratch_constants());
    for piece in [
        COMMON,
        REDUCE,
        SCRATCH,
        WALK,
        if tuning.subgroups {
            TREE_SUBGROUP
        } else {
            TREE_SHARED
        },
    ] {
        s.push_str(piece);
        s.push('\n');
    }
    s
}

/// scratch.wgsl's sizes and status slots, from src/status.rs.
fn scratch_constants() -> String {
    let mut s = format!(
        "const STATUS_WORDS: u32 = {STATUS_WORDS}u;\nconst SCRATCH_NORMS: u32 = {SCRATCH_NORMS}u;\n"
    );
    for check in CHECKS {
        s.push_str(&format!(
            "const STATUS_{}: u32 = {}u;\n",
            const_name(check),
            check as u32
        ));
    }
    s
}

/// A Rust variant's name as a WGSL constant's: `NanInput` → `NAN_INPUT`.
fn const_name(variant: impl Debug) -> String {
    let mut s = String::new();
    for (i, ch) in format!("{variant:?}").chars().enumerate() {
        if i > 0 && ch.is_ascii_uppercase() {
            s.push('_');
        }
        s.push(ch.to_ascii_uppercase());
    }
    s
}

fn f32_lit(v: f32) -> String {
    format!("{v:?}f")
}

pub(crate) fn elementwise(c: &ElementConfig, template: &str) -> String {
    // A directive comes before every declaration.
    let mut s = if c.native_f16 {
        "enable f16;\n".to_string()
    } else {
        String::new()
    };
    s.push_str(&prelude(&c.code));
    s.push_str(&format!(
        "const HAS_WEIGHT: bool = {};\n\
         const HAS_AUX: bool = {};\n\
         const AUX_BROADCAST: bool = {};\n\
         const WRITE_OUT: bool = {};\n\
         const WRITE_GRAD: bool = {};\n\
         const ADD_GRAD: bool = {};\n\
         const UNROLL: u32 = {}u;\n",
        c.has_weight,
        c.has_aux,
        c.aux_broadcast,
        c.write_out,
        c.write_grad,
        c.add_grad,
        if c.pairs { 2 } else { 1 },
    ));
    s.push_str(&loss_pieces(c.loss, c.vec4, Some(c.switches)));
    s.push_str(&element_bindings(&c.dtypes, c.vec4, c.pairs, c.native_f16));
    s.push_str(template);
    s
}

/// One compiled variant of the cast kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CastConfig {
    pub code: CodeConfig,
    pub vec4: bool,
    pub src: DType,
    pub dst: DType,
}

pub(crate) fn cast(c: &CastConfig, template: &str) -> String {
    let (blocked, lanes) = match c.code.layout {
        Layout::GridStride => (false, 1),
        Layout::Blocked { lanes } => (true, lanes),
    };
    let mut s = format!(
        "const WG_SIZE: u32 = {}u;\nconst BLOCKED: bool = {blocked};\nconst LANES: u32 = {lanes}u;\n",
        c.code.workgroup_size
    );
    let variant = if c.vec4 { VARIANT_VEC4 } else { VARIANT_SCALAR };
    for piece in [WALK, variant, HALVES] {
        s.push_str(piece);
        s.push('\n');
    }
    s.push_str(&storage::reader("src", 1, c.src, c.vec4));
    s.push_str(&storage::writer("dst", 2, c.dst, c.vec4));
    s.push_str(template);
    s
}

/// The elementwise kernel's tensor bindings 1-6 for their dtypes, and the halves' helpers.
fn element_bindings(d: &Dtypes, vec4: bool, pairs: bool, native_f16: bool) -> String {
    let mut s = String::from(HALVES);
    s.push_str(&storage::step_reader("x", 1, d.x, vec4, pairs, native_f16));
    s.push_str(&storage::step_reader("y", 2, d.y, vec4, pairs, native_f16));
    s.push_str(&storage::step_reader("w", 3, d.w, vec4, pairs, native_f16));
    s.push_str(&storage::gatherer("aux", 4, d.aux));
    s.push_str(&storage::step_writer("out", 5, d.out, vec4, pairs));
    s.push_str(&storage::step_writer("grad", 6, d.grad, vec4, pairs));
    s
}

/// An elementwise loss's own WGSL: its domain checks and extra tensor's default as
/// constants, one vector variant, math.wgsl, its family file and `loss_fn`, which passes the
/// on/off parameters as literals where `switches` gives them (else all read at run time).
pub(super) fn loss_pieces(loss: &Elementwise, vec4: bool, switches: Option<u8>) -> String {
    let (check_input, input_lo, input_hi) = match loss.input_domain {
        Some(d) => (true, d.lo, d.hi),
        None => (false, 0.0, 0.0),
    };
    let (check_aux, aux_lo, aux_hi) = match loss.aux.and_then(|a| a.domain) {
        Some(d) => (true, d.lo, d.hi),
        None => (false, 0.0, 0.0),
    };
    let aux_default = loss.aux.map(|a| a.default).unwrap_or(0.0);
    let mut s = format!(
        "const AUX_DEFAULT: f32 = {};\n\
         const CHECK_INPUT: bool = {check_input};\n\
         const INPUT_LO: f32 = {};\n\
         const INPUT_HI: f32 = {};\n\
         const CHECK_AUX: bool = {check_aux};\n\
         const AUX_LO: f32 = {};\n\
         const AUX_HI: f32 = {};\n",
        f32_lit(aux_default),
        f32_lit(input_lo),
        f32_lit(input_hi),
        f32_lit(aux_lo),
        f32_lit(aux_hi),
    );
    for piece in [
        if vec4 { VARIANT_VEC4 } else { VARIANT_SCALAR },
        MATH,
        loss.wgsl_file.wgsl(),
    ] {
        s.push_str(piece);
        s.push('\n');
    }
    let params: Vec<String> = ["x", "y", "z", "w"]
        .iter()
        .enumerate()
        .map(|(i, c)| match (switches, loss.params.get(i)) {
            (Some(on), Some(spec)) if spec.rule == Rule::Bool => {
                if on >> i & 1 == 1 { "1.0" } else { "0.0" }.to_string()
            }
            _ => format!("p.{c}"),
        })
        .collect();
    s.push_str(&format!(
        "fn loss_fn(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {{\n    \
         return {}(x, y, a, vec4<f32>({}));\n}}\n",
        loss.wgsl_fn,
        params.join(", ")
    ));
    s
}

/// `switches` for a call's parameters (`ElementConfig::switches`).
pub(crate) fn switches(loss: &Elementwise, params: &[f64]) -> u8 {
    loss.params
        .iter()
        .zip(params)
        .enumerate()
        .filter(|(_, (spec, &v))| spec.rule == Rule::Bool && v != 0.0)
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

/// A kernel whose code changes only with the launch settings (finish, the samples stages).
pub(crate) fn with_prelude(code: &CodeConfig, template: &str) -> String {
    let mut s = prelude(code);
    s.push_str(template);
    s
}

/// Samples an invocation of wasserstein_1d_samples' scan owns in a chunk (samples_scan.wgsl's
/// PER): on CPU drivers, where each barrier switches every SIMD group of the workgroup, long
/// chunks amortise the chunk's scan; GPUs want many chunks.
pub(crate) fn samples_scan_per(code: &CodeConfig) -> usize {
    match code.layout {
        Layout::Blocked { .. } => 32,
        Layout::GridStride => 8,
    }
}

/// The samples scan: the prelude and its PER.
pub(crate) fn with_scan_per(code: &CodeConfig, template: &str) -> String {
    let mut s = prelude(code);
    s.push_str(&format!("const PER: u32 = {}u;\n", samples_scan_per(code)));
    s.push_str(template);
    s
}

/// The sort needs only WG_SIZE, none of the shared pieces.
pub(crate) fn with_workgroup_size(code: &CodeConfig, template: &str) -> String {
    let mut s = format!("const WG_SIZE: u32 = {}u;\n", code.workgroup_size);
    s.push_str(template);
    s
}

/// The cross-entropy row kernel's three losses (MODE in shaders/cross_entropy.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CrossEntropyMode {
    CrossEntropy = 0,
    Nll = 1,
    SparseKeras = 2,
}

impl CrossEntropyMode {
    const ALL: [CrossEntropyMode; 3] = [Self::CrossEntropy, Self::Nll, Self::SparseKeras];
}

/// VTs of a row one lane keeps in registers between the loss and gradient sweeps.
pub(crate) const ROW_CACHE: usize = 8;

/// One compiled variant of the cross-entropy row kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CrossEntropyConfig {
    pub code: CodeConfig,
    pub mode: CrossEntropyMode,
    pub vec4: bool,
    pub row_lanes: u32,
    pub prob_target: bool,
    pub label_words: u32,
    pub has_weight: bool,
    pub softcap: bool,
    pub write_out: bool,
    pub write_grad: bool,
    /// The gradient overwrites the logits (read through the gradient's binding).
    pub in_place: bool,
    /// Each lane's share of a row fits in ROW_CACHE registers: the gradient sweep reuses the
    /// logits the first sweep read instead of reading them again.
    pub cache_row: bool,
    /// Half logits read eight a load (two VTs a step): every row starts 16-byte aligned.
    pub pairs: bool,
    /// x: logits, y: probabilities, w: class weights, out: per-row losses, grad.
    pub dtypes: Dtypes,
}

/// One compiled variant of cross_entropy's label pre-pass (both its entry points).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClassLabelsConfig {
    pub code: CodeConfig,
    pub label_words: u32,
    pub has_weight: bool,
    pub weight: DType,
}

pub(crate) fn class_labels(c: &ClassLabelsConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const LABEL_WORDS: u32 = {}u;\nconst HAS_WEIGHT: bool = {};\n",
        c.label_words, c.has_weight
    ));
    s.push_str(LABELS);
    s.push_str(HALVES);
    s.push_str(&storage::gatherer("class_weight", 2, c.weight));
    s.push_str(template);
    s
}

pub(crate) fn cross_entropy(c: &CrossEntropyConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    for mode in CrossEntropyMode::ALL {
        s.push_str(&format!(
            "const MODE_{}: u32 = {}u;\n",
            const_name(mode),
            mode as u32
        ));
    }
    s.push_str(&format!(
        "const ROW_CACHE: u32 = {ROW_CACHE}u;\n\
         const ROW_LANES: u32 = {}u;\n\
         const MODE: u32 = {}u;\n\
         const PROB_TARGET: bool = {};\n\
         const LABEL_WORDS: u32 = {}u;\n\
         const HAS_WEIGHT: bool = {};\n\
         const SOFTCAP: bool = {};\n\
         const WRITE_OUT: bool = {};\n\
         const WRITE_GRAD: bool = {};\n\
         const IN_PLACE: bool = {};\n\
         const CACHE_ROW: bool = {};\n\
         const UNROLL: u32 = {}u;\n",
        c.row_lanes,
        c.mode as u32,
        c.prob_target,
        c.label_words,
        c.has_weight,
        c.softcap,
        c.write_out,
        c.write_grad,
        c.in_place,
        c.cache_row,
        if c.pairs { 2 } else { 1 },
    ));
    for piece in [
        if c.vec4 { VARIANT_VEC4 } else { VARIANT_SCALAR },
        MATH,
        LABELS,
        ROW_REDUCE,
        HALVES,
    ] {
        s.push_str(piece);
        s.push('\n');
    }
    let d = &c.dtypes;
    s.push_str(&storage::step_reader("x", 1, d.x, c.vec4, c.pairs, false));
    s.push_str(&storage::reader("probs", 3, d.y, c.vec4));
    s.push_str(&storage::reader("class_weight", 4, d.w, c.vec4));
    s.push_str(&storage::scatterer("out", 5, d.out));
    s.push_str(&storage::writer("grad", 6, d.grad, c.vec4));
    s.push_str(template);
    s
}

/// One compiled variant of the row-statistics kernel for one loss.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RowStatsConfig {
    pub loss: &'static str,
    pub code: CodeConfig,
    pub vec4: bool,
    pub row_lanes: u32,
    pub write_out: bool,
    pub write_grad: bool,
    /// x, y, out (per-row losses), grad.
    pub dtypes: Dtypes,
}

pub(crate) fn row_stats(c: &RowStatsConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const ROW_LANES: u32 = {}u;\nconst WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n",
        c.row_lanes, c.write_out, c.write_grad,
    ));
    for piece in [
        if c.vec4 { VARIANT_VEC4 } else { VARIANT_SCALAR },
        MATH,
        ROW_REDUCE,
        ROW_LOSSES,
        HALVES,
    ] {
        s.push_str(piece);
        s.push('\n');
    }
    let d = &c.dtypes;
    s.push_str(&storage::reader("x", 1, d.x, c.vec4));
    s.push_str(&storage::reader("y", 2, d.y, c.vec4));
    s.push_str(&storage::scatterer("out", 3, d.out));
    s.push_str(&storage::writer("grad", 4, d.grad, c.vec4));
    // The loss's functions under the names the template calls; every loss so far folds plain
    // sums. A loss that defines `{loss}_pre` gets the first sweep.
    let l = c.loss;
    let pre = ROW_LOSSES.contains(&format!("fn {l}_pre("));
    s.push_str(&format!(
        "const PRE_SWEEP: bool = {pre};\n\
         fn stats_zero() -> vec4<f32> {{ return sums_zero(); }}\n\
         fn stats_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {{ return sums_combine(a, b); }}\n\
         fn row_grads(x: VT, y: VT, s: vec4<f32>, coef: vec4<f32>) -> VT {{ return {l}_grads(x, y, s, coef); }}\n"
    ));
    s.push_str(&if pre {
        format!(
            "fn row_pre(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {{ return {l}_pre(s, x, y); }}\n\
             fn row_add(s: vec4<f32>, x: VT, y: VT, pre: vec4<f32>) -> vec4<f32> {{ return {l}_add(s, x, y, pre); }}\n\
             fn row_finish(s: vec4<f32>, pre: vec4<f32>) -> RowOut {{ return {l}_finish(s, pre); }}\n"
        )
    } else {
        format!(
            "fn row_pre(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {{ return s; }}\n\
             fn row_add(s: vec4<f32>, x: VT, y: VT, pre: vec4<f32>) -> vec4<f32> {{ return {l}_add(s, x, y); }}\n\
             fn row_finish(s: vec4<f32>, pre: vec4<f32>) -> RowOut {{ return {l}_finish(s); }}\n"
        )
    });
    s.push_str(template);
    s
}

/// One compiled variant of the row-tuples kernel for one loss.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RowTuplesConfig {
    pub loss: &'static str,
    pub code: CodeConfig,
    pub vec4: bool,
    pub row_lanes: u32,
    pub write_out: bool,
    pub write_grad: bool,
    /// Binding 3 holds per-row labels (else a third tensor, which gets a gradient).
    pub labels: bool,
    /// 1 or 2 where the loss's `p` is exactly that; 0 for any other (through `pow`) or none.
    /// Built in, as total_variation's: a CPU driver runs the `pow` a branch on `p` skips.
    pub power: u32,
    pub dtypes: TupleDtypes,
}

/// The dtypes of a row-tuples call's tensors (part of the kernel's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TupleDtypes {
    /// The row tensors a, b and the third (or the labels).
    pub rows: [DType; 3],
    pub out: DType,
    /// The gradients of a, b and c.
    pub grads: [DType; 3],
}

pub(crate) fn row_tuples(c: &RowTuplesConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const ROW_LANES: u32 = {}u;\nconst WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n\
         const THIRD_GRAD: bool = {};\nconst POWER: u32 = {}u;\n",
        c.row_lanes, c.write_out, c.write_grad, !c.labels, c.power,
    ));
    for piece in [
        if c.vec4 { VARIANT_VEC4 } else { VARIANT_SCALAR },
        MATH,
        ROW_REDUCE,
        ROW_TUPLE_LOSSES,
        HALVES,
    ] {
        s.push_str(piece);
        s.push('\n');
    }
    let d = &c.dtypes;
    s.push_str(&storage::reader("a", 1, d.rows[0], c.vec4));
    s.push_str(&storage::reader("b", 2, d.rows[1], c.vec4));
    s.push_str(&storage::scatterer("out", 4, d.out));
    for (k, name) in ["ga", "gb", "gc"].iter().enumerate() {
        s.push_str(&storage::writer(name, 5 + k as u32, d.grads[k], c.vec4));
    }
    // Binding 3: a third tensor read beside the others, or one label per row (±1).
    if c.labels {
        s.push_str(&storage::gatherer("label", 3, d.rows[2]));
        s.push_str(
            "fn load_c(at: u32, i: u32) -> VT { return VT(0.0); }\n\
             fn row_label(row: u32) -> f32 { return load_label(seg.c_at + row); }\n\
             fn label_ok(l: f32) -> bool { return l == 1.0 || l == -1.0; }\n",
        );
    } else {
        s.push_str(&storage::reader("c", 3, d.rows[2], c.vec4));
        s.push_str(
            "fn row_label(row: u32) -> f32 { return 1.0; }\n\
             fn label_ok(l: f32) -> bool { return true; }\n",
        );
    }
    let l = c.loss;
    s.push_str(&format!(
        "fn stats_zero() -> vec4<f32> {{ return sums_zero(); }}\n\
         fn stats_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {{ return sums_combine(a, b); }}\n\
         fn row_add(s: vec4<f32>, a: VT, b: VT, c: VT) -> vec4<f32> {{ return {l}_add(s, a, b, c); }}\n\
         fn row_finish(s: vec4<f32>, label: f32) -> RowOut {{ return {l}_finish(s, label); }}\n\
         fn row_grads(a: VT, b: VT, c: VT, s: vec4<f32>, coef: vec4<f32>) -> Grads {{ return {l}_grads(a, b, c, s, coef); }}\n"
    ));
    s.push_str(template);
    s
}

/// A kernel with optional per-element (or per-row) losses and gradients (total_variation,
/// wasserstein_1d).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct OutputsConfig {
    pub code: CodeConfig,
    pub write_out: bool,
    pub write_grad: bool,
}

pub(crate) fn with_outputs(c: &OutputsConfig, template: &str) -> String {
    let mut s = prelude(&c.code);
    s.push_str(&format!(
        "const WRITE_OUT: bool = {};\nconst WRITE_GRAD: bool = {};\n",
        c.write_out, c.write_grad
    ));
    s.push_str(template);
    s
}

/// One compiled variant of total_variation's kernel: p = 1 and 2 are built in, because a CPU
/// driver runs what a branch on the power skips (`pow` an element cost lavapipe a fifth).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TotalVariationConfig {
    pub outputs: OutputsConfig,
    /// 1 or 2 where the power is exactly that; 0 for any other, through `pow`.
    pub power: u32,
}

/// A `power` field's value for a loss's power `p` as the kernel's f32 compares it: 1 or 2
/// where it is exactly that, 0 for any other (run through `pow`).
pub(crate) fn built_in_power(p: f32) -> u32 {
    match p {
        1.0 => 1,
        2.0 => 2,
        _ => 0,
    }
}

pub(crate) fn total_variation(c: &TotalVariationConfig, template: &str) -> String {
    format!(
        "{}const POWER: u32 = {}u;\n{template}",
        with_outputs(&c.outputs, ""),
        c.power
    )
}

/// One compiled variant of wasserstein_1d's kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct WassersteinConfig {
    pub outputs: OutputsConfig,
    /// vec4s of u and v each lane keeps in private memory between sweeps, or 0 to read
    /// them again from storage.
    pub kept_vec4s: u32,
}

pub(crate) fn wasserstein(c: &WassersteinConfig, template: &str) -> String {
    let keep = format!(
        "const KEEP_ROW: bool = {};\nconst KEEP: u32 = {}u;\n",
        c.kept_vec4s > 0,
        c.kept_vec4s.max(1)
    );
    with_outputs(&c.outputs, &(keep + template))
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MatmulConfig {
    /// out = A · Bᵀ instead of A · B.
    pub trans_b: bool,
}

pub(crate) fn matmul(c: &MatmulConfig, template: &str) -> String {
    let mut s = format!("const TRANS_B: bool = {};\n", c.trans_b);
    for piece in [COMMON, REDUCE, template] {
        s.push_str(piece);
        s.push('\n');
    }
    s
}
