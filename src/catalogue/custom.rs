//! Elementwise losses made at run time: a formula (`crate::formula`: its tree, derivative,
//! generated WGSL and float64 interpreter) or raw WGSL with a Rust closure as its twin. Each
//! becomes an `Elementwise` entry like the catalogue's, so validation, the kernel, the
//! reference, report and bench run it unchanged.
//!
//! Entries live as long as the process, as compiled pipelines do. A formula's entry is
//! interned by its name, parameters, extra tensor and generated WGSL: writing the same loss
//! again returns the same entry, and so the same pipelines. Raw WGSL (whose twin is a closure
//! no key can compare) makes a new entry per call: make it once and keep the `Loss`.

use super::elementwise::{Aux, Broadcast, Elementwise, Sampling, WgslFile};
use crate::error::{LossError, Result};
use crate::formula::{Env, Formula, FN_NAME, MAX_PARAMS};
use crate::params::{ParamSpec, Rule};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// The name a custom loss's extra tensor (the formula's `a`) is given by.
pub const AUX_NAME: &str = "aux";

/// Names appear in messages only (never in WGSL); this keeps them one line.
const MAX_NAME: usize = 64;

static INTERNED: LazyLock<Mutex<HashMap<String, &'static Elementwise>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The entry of the loss `text` (see `crate::formula` for the language), called `name`.
///
/// ```
/// let cauchy = gpu_loss::catalogue::custom::formula("cauchy1", "log(1 + (x - y)^2)")?;
/// let (v, d) = (cauchy.cpu)(1.0, 0.0, 0.0, &[]); // ln 2, 2e / (1 + e²)
/// assert!((v - 2f64.ln()).abs() < 1e-15 && (d - 1.0).abs() < 1e-15);
/// // Written again, the same entry (and so the same compiled kernels).
/// assert!(std::ptr::eq(cauchy, gpu_loss::catalogue::custom::formula("cauchy1", "log(1 + (x - y)^2)")?));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn formula(name: &str, text: &str) -> Result<&'static Elementwise> {
    check_name(name)?;
    let f = Formula::parse(text).map_err(|e| LossError::Custom {
        loss: name.to_string(),
        why: format!("formula `{}`: {e}", one_line(text)),
    })?;
    let wgsl = f.wgsl();
    let aux = aux_spec(f.uses_aux, f.aux_default);
    let key = format!(
        "{name}\n{:?}\n{:?}\n{wgsl}",
        f.params,
        aux.map(|a| (a.required, a.default))
    );
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = interned.get(&key) {
        return Ok(entry);
    }
    let params = f.params.clone();
    let twin = move |x: f64, y: f64, a: f64, p: &[f64]| f.eval(&Env { x, y, a, p });
    let entry = leak_entry(name, &params, aux, wgsl, one_line(text), Box::new(twin));
    interned.insert(key, entry);
    Ok(entry)
}

/// The entry of a loss given as WGSL: `source` defines
/// `fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair` (VT is f32 or `vec4<f32>`;
/// math.wgsl's helpers are in scope) and `twin` is its float64 value and derivative in x.
/// `params` are (name, default), read as p.x, p.y, ...; `aux_default` is `a` where no extra
/// tensor is given (None: the loss requires one). Whether the WGSL compiles is checked when
/// a context first runs it (`GpuContext::custom_wgsl` checks at once).
///
/// ```
/// let source = "fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
///     let e = x - y;
///     return Pair(p.x * e * e, 2.0 * p.x * e);
/// }";
/// let twin = |x: f64, y: f64, _a: f64, p: &[f64]| (p[0] * (x - y).powi(2), 2.0 * p[0] * (x - y));
/// let entry = gpu_loss::catalogue::custom::wgsl("scaled_mse", source, &[("scale", 2.0)], Some(0.0), twin)?;
/// assert_eq!((entry.cpu)(3.0, 1.0, 0.0, &[2.0]), (8.0, 8.0));
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn wgsl(
    name: &str,
    source: &str,
    params: &[(&str, f64)],
    aux_default: Option<f64>,
    twin: impl Fn(f64, f64, f64, &[f64]) -> (f64, f64) + Send + Sync + 'static,
) -> Result<&'static Elementwise> {
    check_name(name)?;
    if params.len() > MAX_PARAMS {
        return Err(LossError::Custom {
            loss: name.to_string(),
            why: format!("at most {MAX_PARAMS} parameters (they travel in one vec4)"),
        });
    }
    let params: Vec<(String, f64)> = params.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    let aux = aux_spec(true, aux_default);
    let entry = leak_entry(
        name,
        &params,
        aux,
        source.to_string(),
        "custom WGSL".into(),
        Box::new(twin),
    );
    Ok(entry)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(LossError::Custom {
            loss: one_line(name),
            why: format!(
                "a custom loss's name has 1 to {MAX_NAME} characters and no control characters"
            ),
        });
    }
    Ok(())
}

/// `text` on one line, shortened, for messages.
fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        flat.chars().take(77).chain("...".chars()).collect()
    } else {
        flat
    }
}

/// The extra tensor `a`: one value per element, per row or a single one; required when
/// read without a declared default.
fn aux_spec(reads: bool, default: Option<f64>) -> Option<Aux> {
    (reads || default.is_some()).then(|| Aux {
        name: AUX_NAME,
        required: default.is_none(),
        default: default.unwrap_or(0.0) as f32,
        broadcast: Broadcast::PerRow,
        domain: None,
    })
}

type Twin = Box<dyn Fn(f64, f64, f64, &[f64]) -> (f64, f64) + Send + Sync>;

fn leak_entry(
    name: &str,
    params: &[(String, f64)],
    aux: Option<Aux>,
    wgsl: String,
    follows: String,
    twin: Twin,
) -> &'static Elementwise {
    let params: Vec<ParamSpec> = params
        .iter()
        .map(|(n, v)| ParamSpec::new(leak(n.clone()), *v, Rule::Finite))
        .collect();
    Box::leak(Box::new(Elementwise {
        name: leak(name.to_string()),
        aliases: &[],
        wgsl_file: WgslFile::Custom(leak(wgsl)),
        wgsl_fn: FN_NAME,
        cpu: Box::leak(twin),
        params: Box::leak(params.into_boxed_slice()),
        aux,
        input_domain: None,
        sampling: Sampling::Real,
        batchmean: false,
        follows: leak(follows),
    }))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
