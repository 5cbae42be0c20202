//! Reductions and loss parameters: what a call may set, with defaults and validity rules from
//! LOSSES.md. Parameters reach the kernel through its uniform, never through its source, so
//! changing one never compiles a pipeline.

use crate::error::{LossError, Result};
use std::fmt;

/// How the per-element (or per-row) losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
///
/// ```
/// use gpu_loss::Reduction;
/// assert_eq!(Reduction::default(), Reduction::Mean);
/// assert_eq!(Reduction::Sum.to_string(), "sum");
/// ```
pub enum Reduction {
    /// The per-element losses themselves.
    None,
    /// Their sum; 0 for an empty input.
    Sum,
    /// Their mean; NaN for an empty input (PyTorch).
    #[default]
    Mean,
    /// The sum divided by the number of rows (kl_div's PyTorch `batchmean`, Keras's value).
    BatchMean,
}

impl Reduction {
    /// The reductions every loss takes (`batchmean` is kl_div's alone).
    pub const ALL: [Reduction; 3] = [Reduction::None, Reduction::Sum, Reduction::Mean];

    /// Its name, as the command line takes it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::Reduction::Mean.name(), "mean");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::BatchMean => "batchmean",
        }
    }

    /// The reduction of this name.
    ///
    /// ```
    /// use gpu_loss::Reduction;
    /// assert_eq!(Reduction::parse("sum"), Some(Reduction::Sum));
    /// assert_eq!(Reduction::parse("average"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Reduction> {
        Reduction::ALL
            .into_iter()
            .chain([Reduction::BatchMean])
            .find(|r| r.name() == s)
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter value as a caller gives it: `0.5`, `true`, or a word such as `lsgan`.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use gpu_loss::ParamValue;
/// assert_eq!(ParamValue::parse("0.5"), ParamValue::Number(0.5));
/// assert_eq!(ParamValue::parse("lsgan"), ParamValue::Word("lsgan".into()));
/// assert_eq!(ParamValue::from(true), ParamValue::Bool(true));
/// ```
pub enum ParamValue {
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A word (one of a parameter's choices, or `none`).
    Word(String),
}

impl ParamValue {
    /// Reads a command-line value: a number, `true`/`false`, or else a word.
    ///
    /// ```
    /// use gpu_loss::ParamValue;
    /// assert_eq!(ParamValue::parse("0.5"), ParamValue::Number(0.5));
    /// assert_eq!(ParamValue::parse("true"), ParamValue::Bool(true));
    /// ```
    pub fn parse(s: &str) -> ParamValue {
        match s {
            "true" => ParamValue::Bool(true),
            "false" => ParamValue::Bool(false),
            _ => s
                .parse::<f64>()
                .map(ParamValue::Number)
                .unwrap_or_else(|_| ParamValue::Word(s.to_string())),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(v) => write!(f, "{v}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Word(w) => f.write_str(w),
        }
    }
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Number(v)
    }
}
impl From<f32> for ParamValue {
    fn from(v: f32) -> Self {
        ParamValue::Number(v as f64)
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}
impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Word(v.to_string())
    }
}

/// What values a numeric parameter accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
///
/// ```
/// use gpu_loss::params::Rule;
/// assert_eq!(Rule::Positive.describe(), "a finite number > 0");
/// ```
pub enum Rule {
    /// Any finite number.
    Finite,
    /// A finite number > 0.
    Positive,
    /// A finite number >= 0.
    NonNegative,
    /// `true` or `false` (1 or 0 also read as booleans).
    Bool,
    /// A whole number (class labels: ignore_index).
    Integer,
    /// A number in [0, 1].
    Unit,
    /// An odd whole number from 3 to 15 (section G's Gaussian window).
    Window,
    /// One of these words (section E's `kind`); the kernel sees its index.
    OneOf {
        /// The words, in the order of the indices the kernel sees.
        words: &'static [&'static str],
        /// The rule as errors quote it.
        text: &'static str,
    },
}

impl Rule {
    /// The rule as errors quote it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::params::Rule::Finite.describe(), "a finite number");
    /// ```
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Finite => "a finite number",
            Rule::Positive => "a finite number > 0",
            Rule::NonNegative => "a finite number >= 0",
            Rule::Bool => "true or false",
            Rule::Integer => "a whole number in i64's range",
            Rule::Unit => "a number in [0, 1]",
            Rule::Window => "an odd whole number from 3 to 15",
            Rule::OneOf { text, .. } => text,
        }
    }

    /// A number given directly (the CPU twins' parameters): the same rule, the same error as
    /// [`resolve`] gives.
    pub(crate) fn check(self, loss: &'static str, name: &'static str, value: f64) -> Result<()> {
        let value = ParamValue::Number(value);
        match self.admit(&value) {
            Some(_) => Ok(()),
            None => Err(self.refusal(loss, name, &value)),
        }
    }

    fn refusal(self, loss: &'static str, name: &'static str, value: &ParamValue) -> LossError {
        LossError::InvalidParam {
            loss,
            name,
            value: value.to_string(),
            rule: self.describe(),
        }
    }

    /// The value as the kernel sees it (booleans as 0 or 1), or None if it breaks the rule.
    fn admit(self, v: &ParamValue) -> Option<f64> {
        match (self, v) {
            (Rule::Bool, ParamValue::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
            (Rule::Bool, ParamValue::Number(x)) if *x == 0.0 || *x == 1.0 => Some(*x),
            (Rule::Bool, _) => None,
            (Rule::OneOf { words, .. }, ParamValue::Word(w)) => {
                words.iter().position(|k| k == w).map(|i| i as f64)
            }
            (Rule::OneOf { .. }, _) => None,
            (_, ParamValue::Number(x)) => {
                let ok = x.is_finite()
                    && match self {
                        Rule::Positive => *x > 0.0,
                        Rule::NonNegative => *x >= 0.0,
                        // Labels are i64: every whole float64 in [-2^63, 2^63] reaches
                        // the kernel as one (2^63 is i64::MAX's float64).
                        Rule::Integer => x.fract() == 0.0 && x.abs() <= 2f64.powi(63),
                        Rule::Unit => (0.0..=1.0).contains(x),
                        Rule::Window => {
                            (3.0..=15.0).contains(x) && x.fract() == 0.0 && x % 2.0 == 1.0
                        }
                        _ => true,
                    };
                ok.then_some(*x)
            }
            _ => None,
        }
    }
}

/// One parameter of a loss, as LOSSES.md lists it. A default of NaN means "none" (softcap):
/// the parameter is off unless given.
#[derive(Clone, Copy, Debug)]
///
/// ```
/// let huber = gpu_loss::catalogue::find("huber").unwrap();
/// let delta = huber.params()[0];
/// assert_eq!((delta.name, delta.default), ("delta", 1.0));
/// ```
pub struct ParamSpec {
    /// Its name.
    pub name: &'static str,
    /// Its default (NaN: none).
    pub default: f64,
    /// The values it takes.
    pub rule: Rule,
}

impl ParamSpec {
    /// A parameter.
    ///
    /// ```
    /// use gpu_loss::params::{ParamSpec, Rule};
    /// const DELTA: ParamSpec = ParamSpec::new("delta", 1.0, Rule::Positive);
    /// assert_eq!((DELTA.name, DELTA.default), ("delta", 1.0));
    /// ```
    pub const fn new(name: &'static str, default: f64, rule: Rule) -> Self {
        ParamSpec {
            name,
            default,
            rule,
        }
    }
}

/// Resolves the given (name, value) pairs against a loss's parameter list: unknown names and
/// values that break a rule are errors; missing ones take their default. The result is in the
/// order of `specs`, which is the order the kernel reads them in.
///
/// ```
/// use gpu_loss::{catalogue, params, ParamValue};
/// let huber = catalogue::find("huber").unwrap();
/// let values = params::resolve("huber", huber.params(), &[("delta".into(), ParamValue::Number(0.5))])?;
/// assert_eq!(values, vec![0.5]);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn resolve(
    loss: &'static str,
    specs: &'static [ParamSpec],
    given: &[(String, ParamValue)],
) -> Result<Vec<f64>> {
    let mut values: Vec<f64> = specs.iter().map(|s| s.default).collect();
    for (name, value) in given {
        let Some(i) = specs.iter().position(|s| s.name == name) else {
            return Err(LossError::UnknownParam {
                loss,
                name: name.clone(),
                takes: names(specs),
            });
        };
        let spec = &specs[i];
        // `list` prints an off-by-default parameter's default as `none`; it reads back.
        if spec.default.is_nan() && *value == ParamValue::Word("none".into()) {
            values[i] = f64::NAN;
            continue;
        }
        values[i] = spec
            .rule
            .admit(value)
            .ok_or_else(|| spec.rule.refusal(loss, spec.name, value))?;
    }
    Ok(values)
}

fn names(specs: &[ParamSpec]) -> String {
    if specs.is_empty() {
        return "no parameters".into();
    }
    specs
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The losses that take none, sum or mean only (every one but the elementwise kl_div).
///
/// ```
/// use gpu_loss::{params, Reduction};
/// assert!(params::no_batchmean("mse", Reduction::Mean).is_ok());
/// assert!(params::no_batchmean("mse", Reduction::BatchMean).is_err());
/// ```
pub fn no_batchmean(loss: &'static str, reduction: Reduction) -> crate::Result<()> {
    if reduction == Reduction::BatchMean {
        return Err(crate::LossError::Reduction {
            loss,
            reduction: reduction.name().into(),
            why: "this loss takes none, sum or mean",
        });
    }
    Ok(())
}
