//! Records one elementwise call: splits the tensors into dispatches that fit the device's
//! binding limit (vec4 body, scalar tail), binds each dispatch's windows, and folds every
//! dispatch's workgroup partials in one finish pass.

use super::dispatch::{
    begin_pass, group, range_or_dummy, scratch_range, segments, window, Finish, FinishUniform,
    Launch, Window,
};
use super::registry::ELEMENTWISE;
use super::source::{switches, ElementConfig};
use super::storage::{self, Dtypes};
use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use crate::problem::{AuxLayout, Problem};
use crate::tensor::{DType, Tensor};
use crate::tuning::TuneFamily;
use bytemuck::{Pod, Zeroable};

/// shaders/elementwise.wgsl's `Segment`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SegmentUniform {
    count: u32,
    first: u32,
    x_at: u32,
    y_at: u32,
    w_at: u32,
    aux_at: u32,
    out_at: u32,
    grad_at: u32,
    partial_at: u32,
    aux_div: u32,
    aux_mod: u32,
    grad_scale: f32,
    params: [f32; 4],
}

/// The tensors of one call, already checked against its `Problem`.
pub(crate) struct Bound<'a> {
    pub input: &'a Tensor,
    pub target: &'a Tensor,
    pub weight: Option<&'a Tensor>,
    pub aux: Option<&'a Tensor>,
    pub out: Option<&'a Tensor>,
    pub grad: Option<&'a Tensor>,
    /// Add the gradient to what `grad` holds instead of overwriting it.
    pub add_grad: bool,
    /// The reduced value goes to element 0 of this tensor.
    pub result: &'a Tensor,
}

/// Records the call; returns its scratch buffer (status words, partials), which the caller
/// keeps to read the status once the work has run.
pub(crate) fn record(
    ctx: &GpuContext,
    p: &Problem,
    t: &Bound<'_>,
    enc: &mut wgpu::CommandEncoder,
) -> Result<Pooled> {
    let inner = &ctx.inner;
    let l = Launch::tuned(ctx, TuneFamily::Elementwise);
    let (tuning, align) = (&l.tuning, l.align);
    let max_count = ((tuning.max_binding_bytes - align) / 4) as usize / 1024 * 1024;

    let aux_full = p.aux == Some(AuxLayout::Full);
    let windowed: Vec<&Tensor> = [Some(t.input), Some(t.target), t.weight, t.out, t.grad]
        .into_iter()
        .flatten()
        .chain(t.aux.filter(|_| aux_full))
        .collect();
    let vec4 = tuning.vector_loads
        && windowed
            .iter()
            .all(|w| w.offset() % storage::vec4_alignment(w.dtype()) == 0);
    let dtype = |t: Option<&Tensor>| t.map_or(DType::F32, Tensor::dtype);
    let dtypes = Dtypes {
        x: t.input.dtype(),
        y: t.target.dtype(),
        w: dtype(t.weight),
        aux: dtype(t.aux),
        out: dtype(t.out),
        grad: dtype(t.grad),
    };
    // Steps of eight elements where halves are read: one 16-byte access per tensor.
    let pairs = vec4
        && windowed.iter().any(|w| w.dtype().is_half())
        && windowed.iter().all(|w| w.offset() % 16 == 0);
    let unit = match (vec4, pairs) {
        (false, _) => 0,
        (true, false) => 4,
        (true, true) => 8,
    };
    let segs = segments(p.n, unit, max_count.max(1024));

    let config = |vec4| ElementConfig {
        loss: p.loss,
        code: l.code,
        vec4,
        pairs: vec4 && pairs,
        native_f16: l.tuning.native_f16 && [dtypes.x, dtypes.y, dtypes.w].contains(&DType::F16),
        has_weight: t.weight.is_some(),
        has_aux: t.aux.is_some(),
        aux_broadcast: matches!(p.aux, Some(AuxLayout::Broadcast { .. })),
        write_out: t.out.is_some(),
        write_grad: t.grad.is_some(),
        add_grad: t.add_grad,
        switches: switches(p.loss, &p.params),
        dtypes,
    };
    let wg = tuning.workgroup_size as usize;
    let groups: Vec<u32> = segs
        .iter()
        .map(|s| {
            let per_step = if s.vec4 { unit } else { 1 };
            (s.count / per_step)
                .div_ceil(wg)
                .clamp(1, tuning.max_workgroups as usize) as u32
        })
        .collect();
    let total: u32 = groups.iter().sum();
    let scratch = ctx.scratch(u64::from(total))?;

    // A broadcast aux tensor is bound whole: each element finds its value by global index.
    let aux_whole = match (t.aux, p.aux) {
        (Some(a), Some(AuxLayout::Broadcast { .. })) => {
            let w = window(a, 0, a.len(), align);
            if w.size > inner.limits.max_storage_buffer_binding_size {
                return Err(LossError::Limit {
                    what: format!("binding `{}`", p.aux_name()),
                    needed: w.size,
                    limit: inner.limits.max_storage_buffer_binding_size,
                });
            }
            Some(w)
        }
        _ => None,
    };
    let (aux_div, aux_mod) = match p.aux {
        Some(AuxLayout::Broadcast { div, modulo }) => (div.max(1), modulo.max(1)),
        _ => (1, 1),
    };
    let mut params = [0f32; 4];
    for (dst, src) in params.iter_mut().zip(&p.params) {
        *dst = *src as f32;
    }

    let mut dispatches = Vec::with_capacity(segs.len());
    let mut partial_at = 0u32;
    for (s, &groups) in segs.iter().zip(&groups) {
        let win = |t: &Tensor| window(t, s.first, s.count, align);
        let x = win(t.input);
        let y = win(t.target);
        let w = t.weight.map(win);
        let out = t.out.map(win);
        let grad = t.grad.map(win);
        let aux = if aux_full { t.aux.map(win) } else { None };
        let aux_ref: Option<&Window> = aux.as_ref().or(aux_whole.as_ref());
        let uniform = SegmentUniform {
            count: s.count as u32,
            first: s.first as u32,
            x_at: x.at,
            y_at: y.at,
            w_at: w.as_ref().map_or(0, |w| w.at),
            aux_at: aux_ref.map_or(0, |w| w.at),
            out_at: out.as_ref().map_or(0, |w| w.at),
            grad_at: grad.as_ref().map_or(0, |w| w.at),
            partial_at,
            aux_div,
            aux_mod,
            grad_scale: (p.grad_scale() * p.scale) as f32,
            params,
        };
        partial_at += groups;
        let ubuf = ctx.uniform(bytemuck::bytes_of(&uniform));
        let bind = group(
            ctx,
            &ELEMENTWISE,
            "elementwise",
            &[
                (&ubuf, 0, ubuf.size()),
                (t.input.buffer(), x.offset, x.size),
                (t.target.buffer(), y.offset, y.size),
                range_or_dummy(t.weight, w.as_ref(), &inner.dummy_read),
                range_or_dummy(t.aux, aux_ref, &inner.dummy_read),
                range_or_dummy(t.out, out.as_ref(), &inner.dummy_out),
                range_or_dummy(t.grad, grad.as_ref(), &inner.dummy_grad),
                scratch_range(&scratch),
            ],
        );
        let pipeline =
            inner
                .kernels
                .pipeline_checked(&ELEMENTWISE, &config(s.vec4), tuning.runtime_checks)?;
        dispatches.push((pipeline, bind, groups));
    }

    let finish = Finish::new(
        ctx,
        l.code,
        &scratch,
        t.result,
        FinishUniform {
            count: total,
            partial_at: 0,
            result_at: 0,
            divisor: (p.divisor() / p.scale) as f32,
            norm_divisor: 0,
            _pad: [0; 3],
        },
    )?;

    let mut pass = begin_pass(enc, p.loss.name, &scratch);
    for (pipeline, bind, groups) in &dispatches {
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(*groups, 1, 1);
    }
    finish.dispatch(&mut pass);
    drop(pass);
    Ok(scratch)
}

/// Compiles `loss`'s kernel, vec4 and scalar, on this context's settings: a custom loss's
/// WGSL is checked once, up front, instead of failing its first call.
pub(crate) fn compile(
    ctx: &GpuContext,
    loss: &'static crate::catalogue::Elementwise,
) -> Result<()> {
    let l = Launch::of(ctx);
    for vec4 in [true, false] {
        let config = ElementConfig {
            loss,
            code: l.code,
            vec4,
            pairs: false,
            native_f16: false,
            has_weight: true,
            has_aux: loss.aux.is_some(),
            aux_broadcast: false,
            write_out: true,
            write_grad: true,
            add_grad: false,
            switches: 0,
            dtypes: Dtypes::default(),
        };
        ctx.inner.kernels.pipeline(&ELEMENTWISE, &config)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Random formulas, odd constants included, assembled into the elementwise kernel: naga
    //! must take every one the parser takes (no shader compile failure reaches a caller).
    use super::*;
    use crate::catalogue::custom;
    use crate::tuning::Layout;
    use proptest::prelude::*;
    use proptest::sample::select;
    use wgpu::naga;

    fn formula() -> impl Strategy<Value = String> {
        let leaves = [
            "x", "y", "a", "p", "pi", "0", "1e-45", "3.4e38", "0.1", "2", "-1",
        ];
        let leaf = select(leaves.to_vec()).prop_map(String::from);
        let unary = [
            "abs", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "cosh", "sinh",
            "sigmoid", "softplus",
        ];
        leaf.prop_recursive(4, 48, 4, move |inner| {
            let cmp = select(vec!["<", "<=", ">", ">=", "==", "!="]);
            prop_oneof![
                (select(unary.to_vec()), inner.clone()).prop_map(|(f, u)| format!("{f}({u})")),
                (
                    inner.clone(),
                    select(vec!["+", "-", "*", "/"]),
                    inner.clone()
                )
                    .prop_map(|(a, o, b)| format!("({a} {o} {b})")),
                (
                    inner.clone(),
                    select(vec!["2", "-3", "0.5", "p", "y", "64", "65"])
                )
                    .prop_map(|(a, e)| format!("({a})^{e}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("clamp({a}, {b}, {c})")),
                (inner.clone(), cmp, inner.clone(), inner.clone(), inner)
                    .prop_map(|(a, c, b, t, o)| format!("select({a} {c} {b}, {t}, {o})")),
            ]
        })
    }

    /// The kernel of a formula, both vector variants, through naga's parser and validator.
    fn validate(text: &str) {
        let Ok(loss) = custom::formula("random", text) else {
            return;
        };
        for vec4 in [true, false] {
            let config = ElementConfig {
                loss,
                code: super::super::source::CodeConfig {
                    workgroup_size: 64,
                    layout: Layout::GridStride,
                    subgroups: false,
                },
                vec4,
                pairs: false,
                native_f16: false,
                has_weight: true,
                has_aux: true,
                aux_broadcast: false,
                write_out: true,
                write_grad: true,
                add_grad: false,
                switches: 0,
                dtypes: Dtypes::default(),
            };
            let code = ELEMENTWISE.source(&config);
            let module = naga::front::wgsl::parse_str(&code)
                .unwrap_or_else(|e| panic!("{text}: {}", e.emit_to_string(&code)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{text}: {}", e.emit_to_string(&code)));
        }
    }

    /// Constants that fold to inf, NaN or beyond f32: WGSL has no literal for them and refuses
    /// a constant expression that gives one.
    #[test]
    fn non_finite_constants_compile() {
        for text in [
            "x + pi / 0",
            "x * log(0)",
            "x + sqrt(-1)",
            "x * 3.4e38 * 10",
            "x + 1e-45",
            "-1 / 0 * x",
            "select(x > 1 / 0, x, 0 / 0)",
        ] {
            validate(text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn every_formula_the_parser_takes_is_valid_wgsl(body in formula()) {
            validate(&format!("p = 0.5; a = 1; {body} + x"));
        }
    }
}
