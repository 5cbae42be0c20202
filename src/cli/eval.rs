//! `gpu-loss eval`: one loss on tensors from `.npy` files (dumped from PyTorch, Keras, JAX),
//! on a chosen adapter or the float64 reference; one JSON object on stdout, the per-element
//! losses and gradients as `.npy` files.

use super::staged::Staged;
use gpu_loss::catalogue::{self, Loss};
use gpu_loss::cpu::named::evaluate_loss;
use gpu_loss::half::{bf16, f16};
use gpu_loss::npy::{Array, Values};
use gpu_loss::params::Rule;
use gpu_loss::{DType, GpuContext, LossError, ParamValue, Reduction, Result, Tensor};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The loss, as LOSSES.md names it (see `gpu-loss list`); none with --formula.
    #[arg(required_unless_present = "formula")]
    loss: Option<String>,
    /// A custom loss written as a formula instead, e.g. 'log(1 + (x - y)^2)' (README,
    /// "Custom losses"); its `a` is the tensor `aux`.
    #[arg(long, conflicts_with = "loss", value_name = "FORMULA")]
    formula: Option<String>,
    /// A tensor by its LOSSES.md name: NAME=FILE.npy (float32/64/16, int32/64; C order);
    /// float16 stays f16 on the GPU. NAME:bf16=FILE reads bf16 (16-bit patterns as `<u2` or
    /// `|V2`, or floats rounded); NAME:f16=FILE and NAME:f32=FILE convert.
    #[arg(long = "tensor", value_name = "NAME[:DTYPE]=FILE.npy")]
    tensors: Vec<String>,
    /// A parameter: KEY=VALUE (a number, true/false, or a word).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// none, sum, mean (the default) or batchmean (kl_div).
    #[arg(long, default_value = "mean")]
    reduction: String,
    /// Write the gradient of the reduced loss with respect to tensor NAME (float32 .npy).
    #[arg(long = "grad", value_name = "NAME=FILE.npy")]
    grads: Vec<String>,
    /// Write the per-element (or per-row) losses.
    #[arg(long, value_name = "FILE.npy")]
    out: Option<PathBuf>,
    /// The dtype of --out and --grad files (f32, f16, bf16); by default the input's: f16 as
    /// `<f2`, bf16 as `<u2` bit patterns.
    #[arg(long = "grad-dtype", value_name = "DTYPE")]
    grad_dtype: Option<String>,
    /// auto, vulkan, gl, metal, dx12, or cpu (the float64 reference).
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Only an adapter whose name contains this.
    #[arg(long, value_name = "SUBSTRING")]
    adapter: Option<String>,
}

fn pair(arg: &str, flag: &str) -> Result<(String, String)> {
    arg.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| LossError::Usage(format!("{flag} {arg:?}: expected NAME=VALUE")))
}

/// The `--param` pairs, each named once. A label parameter (`ignore_index`) travels as a
/// float64, so a whole number that float64 cannot hold exactly is refused, not rounded.
fn params(loss: Loss, given: &[String]) -> Result<Vec<(String, ParamValue)>> {
    let mut out: Vec<(String, ParamValue)> = Vec::new();
    for p in given {
        let (name, text) = pair(p, "--param")?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(LossError::Usage(format!("--param {name} given twice")));
        }
        let spec = loss.params().iter().find(|s| s.name == name);
        if let (Some(spec), Ok(n)) = (spec, text.parse::<i64>()) {
            if matches!(spec.rule, Rule::Integer) && (n as f64) as i64 != n {
                return Err(LossError::InvalidParam {
                    loss: loss.name(),
                    name: spec.name,
                    value: text,
                    rule: "a whole number float64 holds exactly (up to 2^53, or i64's extremes)",
                });
            }
        }
        let value = ParamValue::parse(&text);
        out.push((name, value));
    }
    Ok(out)
}

/// A number as JSON: finite ones as numbers, the others as "inf", "-inf" or "nan" (JSON has
/// no such numbers, and null would not say which).
pub(super) fn number(v: f64) -> serde_json::Value {
    match v {
        _ if v.is_finite() => json!(v),
        _ if v.is_nan() => json!("nan"),
        _ if v > 0.0 => json!("inf"),
        _ => json!("-inf"),
    }
}

fn no_elements(loss: Loss) -> LossError {
    LossError::Usage(format!(
        "--out: {} gives no per-element losses",
        loss.name()
    ))
}

pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let loss = match (&args.loss, &args.formula) {
        (_, Some(text)) => super::formula_loss(0, text)?,
        (Some(name), None) => {
            catalogue::find(name).ok_or_else(|| LossError::UnknownLoss(name.clone()))?
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let reduction = Reduction::parse(&args.reduction).ok_or_else(|| {
        LossError::Usage(format!(
            "--reduction {}: expected none, sum, mean or batchmean",
            args.reduction
        ))
    })?;
    let params = params(loss, &args.params)?;
    let differentiable = loss.grad_tensors();
    let mut grads: Vec<(String, PathBuf)> = Vec::new();
    for g in &args.grads {
        let (name, file) = pair(g, "--grad")?;
        if !differentiable.contains(&name.as_str()) {
            return Err(LossError::Usage(format!(
                "--grad {name}: {} has a gradient only for {}",
                loss.name(),
                differentiable.join(", ")
            )));
        }
        if grads.iter().any(|(n, _)| *n == name) {
            return Err(LossError::Usage(format!("--grad {name} given twice")));
        }
        grads.push((name, PathBuf::from(file)));
    }
    if args.out.is_some() && matches!(loss, Loss::Objective(_)) {
        return Err(no_elements(loss));
    }
    // Every output is staged before any work: `--out` first, then each `--grad`.
    let dests: Vec<&Path> = args
        .out
        .iter()
        .map(PathBuf::as_path)
        .chain(grads.iter().map(|g| g.1.as_path()))
        .collect();
    let mut staged = Staged::open(&dests)?;
    let mut tensors = Vec::new();
    for t in &args.tensors {
        let (name, file) = pair(t, "--tensor")?;
        if tensors.iter().any(|(n, _)| *n == name) {
            return Err(LossError::Usage(format!("--tensor {name} given twice")));
        }
        let (name, want) = match name.split_once(':') {
            Some((n, d)) => (n.to_string(), Some(dtype_arg(d, "--tensor")?)),
            None => (name, None),
        };
        let array = typed(&name, Array::read(Path::new(&file))?, want)?;
        tensors.push((name, array));
    }
    let grad_dtype = (args.grad_dtype.as_deref())
        .map(|d| dtype_arg(d, "--grad-dtype"))
        .transpose()?;

    let started = Instant::now();
    let (value, terms, adapter) = if args.backend == "cpu" {
        let r = evaluate_loss(loss, &tensors, &params, reduction)?;
        let first_grad = usize::from(args.out.is_some());
        if first_grad == 1 {
            // The per-element losses whatever the reduction, as the GPU gives them.
            let out = match reduction {
                Reduction::None => r.out.clone(),
                _ => evaluate_loss(loss, &tensors, &params, Reduction::None)?.out,
            };
            let (shape, out) = out.ok_or_else(|| no_elements(loss))?;
            staged.write(0, &shape, &out)?;
        }
        for (i, (name, _)) in grads.iter().enumerate() {
            let missing = || LossError::Usage(format!("--grad {name}: no gradient was computed"));
            let g = r
                .grads
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(missing)?;
            let t = tensors
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(missing)?;
            staged.write(first_grad + i, &t.1.shape, &g.1)?;
        }
        let adapter = json!({"name": "float64 reference", "backend": "cpu"});
        (r.value, r.terms, adapter)
    } else {
        let ctx = context(&args.backend, args.adapter.as_deref())?;
        let info = ctx.adapter_info();
        let (value, terms) = run_gpu(
            &ctx,
            loss,
            &tensors,
            &params,
            reduction,
            Outputs {
                elements: args.out.is_some(),
                grads: &grads,
                staged: &mut staged,
                dtype: grad_dtype,
            },
        )?;
        // After the call: its first call of a family is what decides the family's settings.
        let adapter = json!({
            "name": info.name,
            "backend": format!("{:?}", info.backend).to_lowercase(),
            "tuning": ctx.tuning_of(loss),
        });
        (value, terms, adapter)
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    staged.commit()?;
    let mut report = json!({
        "loss": loss.name(),
        "reduction": reduction.name(),
        "value": value.map_or(serde_json::Value::Null, number),
        "adapter": adapter,
        "elapsed_ms": elapsed_ms,
    });
    if let Loss::Objective(_) = loss {
        let terms: serde_json::Map<String, serde_json::Value> = terms
            .into_iter()
            .map(|(k, v)| (k.to_string(), number(v)))
            .collect();
        report["terms"] = serde_json::Value::Object(terms);
    }
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// The adapter the flags name: `auto` is the default adapter (honouring WGPU_BACKEND and
/// WGPU_ADAPTER_NAME); otherwise the first adapter of that backend and name.
pub(super) fn context(backend: &str, name: Option<&str>) -> Result<GpuContext> {
    if backend == "auto" && name.is_none() {
        return GpuContext::new();
    }
    GpuContext::from_adapter(&super::matching_adapters(backend, name)?[0])
}

/// A dtype named on the command line.
pub(super) fn dtype_arg(text: &str, flag: &str) -> Result<DType> {
    match text {
        "f32" | "float32" => Ok(DType::F32),
        "f16" | "float16" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        _ => Err(LossError::Usage(format!(
            "{flag} {text:?}: expected a dtype: f32, f16 or bf16"
        ))),
    }
}

/// The array as `--tensor NAME:DTYPE` asks: bf16 bit patterns decoded, floats rounded to the
/// dtype (so the float64 reference sees what the GPU holds), marked with the dtype
/// `upload_named` uploads it as (`<f2`, `bfloat16`, `<f4`).
fn typed(name: &str, mut a: Array, want: Option<DType>) -> Result<Array> {
    let bits = a.dtype == "<u2" || a.dtype == "|V2";
    let fail = |why: String| Err(LossError::Usage(format!("--tensor {name}: {why}")));
    let (values, dtype): (Vec<f64>, &str) = match (want, &a.values) {
        (None, _) if a.dtype == "|V2" => {
            return fail("2-byte void values; mark bf16 ones as NAME:bf16=FILE".into())
        }
        (None, _) => return Ok(a),
        (Some(DType::BF16), Values::Int(v)) if bits => (
            v.iter()
                .map(|&b| f64::from(bf16::from_bits(b as u16)))
                .collect(),
            "bfloat16",
        ),
        (Some(d), Values::Float(v)) => match d {
            DType::F16 => (
                v.iter().map(|&x| f16::from_f64(x).to_f64()).collect(),
                "<f2",
            ),
            DType::BF16 => (
                v.iter().map(|&x| bf16::from_f64(x).to_f64()).collect(),
                "bfloat16",
            ),
            _ => (v.iter().map(|&x| f64::from(x as f32)).collect(), "<f4"),
        },
        (Some(d), _) => return fail(format!("{} values cannot be read as {}", a.dtype, d.name())),
    };
    a.values = Values::Float(values);
    a.dtype = dtype.into();
    Ok(a)
}

/// Every float array rounded to `dtype` (class labels stay integers): `bench --dtype`.
pub(super) fn as_dtype(
    tensors: Vec<(String, Array)>,
    dtype: DType,
) -> Result<Vec<(String, Array)>> {
    tensors
        .into_iter()
        .map(|(name, a)| match (dtype, &a.values) {
            (DType::F32, _) | (_, Values::Int(_)) => Ok((name, a)),
            _ => Ok((name.clone(), typed(&name, a, Some(dtype))?)),
        })
        .collect()
}

/// The dtype a float array goes to the GPU as: float16 and bf16 stay half.
fn float_dtype(a: &Array) -> DType {
    match a.dtype.as_str() {
        "<f2" => DType::F16,
        "bfloat16" => DType::BF16,
        _ => DType::F32,
    }
}

/// Writes output `i`: f32 as `<f4`, f16 as `<f2`, bf16 as `<u2` bit patterns.
fn write_tensor(ctx: &GpuContext, staged: &mut Staged, i: usize, t: &Tensor) -> Result<()> {
    match t.dtype() {
        DType::F16 => staged.write(i, t.shape(), &ctx.download_f16(t)?),
        DType::BF16 => {
            let bits: Vec<u16> = ctx.download_bf16(t)?.iter().map(|v| v.to_bits()).collect();
            staged.write(i, t.shape(), &bits)
        }
        _ => staged.write(i, t.shape(), &ctx.download(t)?),
    }
}

/// Uploads named arrays as the loss takes them: class labels stay integers (int64) for the
/// losses that read labels; float16 and bf16 (see `typed`) stay half; everything else becomes
/// float32 (±1 labels included).
pub fn upload_named<'a>(
    ctx: &GpuContext,
    loss: Loss,
    tensors: &'a [(String, Array)],
) -> Result<Vec<(&'a str, Tensor)>> {
    let takes_labels = |name: &str| loss.tensor(name).is_some_and(|t| t.holds.takes_indices());
    tensors
        .iter()
        .map(|(name, a)| {
            let t = match a.ints() {
                Some(labels) if takes_labels(name) => ctx.upload_i64(labels, &a.shape)?,
                _ => ctx.upload_as(&a.f32s(), &a.shape, float_dtype(a))?,
            };
            Ok((name.as_str(), t))
        })
        .collect()
}

/// What to write: the per-element losses (first), then each named gradient.
struct Outputs<'a> {
    elements: bool,
    grads: &'a [(String, PathBuf)],
    staged: &'a mut Staged,
    /// `--grad-dtype`: the outputs' dtype where not the input's.
    dtype: Option<DType>,
}

/// An objective's terms: each one's contribution to the value.
type Terms = Vec<(&'static str, f64)>;

fn run_gpu(
    ctx: &GpuContext,
    loss: Loss,
    tensors: &[(String, Array)],
    params: &[(String, ParamValue)],
    reduction: Reduction,
    outputs: Outputs<'_>,
) -> Result<(Option<f64>, Terms)> {
    let Outputs {
        elements,
        grads,
        staged,
        dtype,
    } = outputs;
    let uploaded = upload_named(ctx, loss, tensors)?;
    let mut call = ctx.call(loss).reduction(reduction);
    for (name, t) in &uploaded {
        call = call.tensor(name, t);
    }
    for (k, v) in params {
        call = call.param(k, v.clone());
    }
    if !grads.is_empty() {
        call = call.with_grad();
    }
    if elements {
        call = call.with_elements();
    }
    if let Some(d) = dtype {
        call = call.grad_dtype(d);
    }
    let out = call.run()?;
    if elements {
        let e = out.elements.as_ref().ok_or_else(|| no_elements(loss))?;
        write_tensor(ctx, staged, 0, e)?;
    }
    let first = loss.grad_tensors().first().copied();
    for (i, (name, _)) in grads.iter().enumerate() {
        let g = if Some(name.as_str()) == first {
            out.grad.as_ref()
        } else {
            out.other_grads
                .iter()
                .find(|(n, _)| n == name)
                .map(|g| &g.1)
        };
        let g = g.ok_or_else(|| LossError::Gpu(format!("no gradient for {name}")))?;
        write_tensor(ctx, staged, usize::from(elements) + i, g)?;
    }
    let terms = out.terms.iter().map(|(k, v)| (*k, f64::from(*v))).collect();
    Ok((out.value.map(f64::from), terms))
}
