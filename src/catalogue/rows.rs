//! Section C's row losses: `[..., C]` tensors, one loss per row (leading axes are rows).

use super::tensors::{Draw, Extent, Holds, TensorSpec};
use crate::cpu::twins::{self, Twin};
use crate::params::{ParamSpec, Rule};

/// Which kernel evaluates a row loss.
///
/// ```
/// use gpu_loss::catalogue::{RowKernel, ROWS};
/// let kernel = |name| ROWS.iter().find(|l| l.name == name).unwrap().kernel;
/// assert_eq!((kernel("nll"), kernel("dice")), (RowKernel::Nll, RowKernel::Stats));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKernel {
    /// shaders/cross_entropy.wgsl (with its label pre-pass), MODE 0.
    CrossEntropy,
    /// The same kernel, MODE 1: a gather of log-probabilities.
    Nll,
    /// The same kernel, MODE 2: Keras on probabilities.
    SparseCategorical,
    /// shaders/row_stats.wgsl with this loss's functions from shaders/row_losses.wgsl: `input`
    /// and `target` of one shape, a loss from a few per-row sums (a loss with a `{loss}_pre`
    /// function gets a first sweep whose sums the second one reads).
    Stats,
    /// shaders/row_tuples.wgsl with this loss's functions from shaders/row_tuple_losses.wgsl:
    /// two or three `[N, C]` tensors (and optional per-row `target` labels), a gradient for each.
    Tuples,
}

impl RowKernel {
    /// The cross-entropy kernel's modes, which read class labels.
    ///
    /// ```
    /// use gpu_loss::catalogue::RowKernel;
    /// assert!(RowKernel::Nll.reads_labels() && !RowKernel::Tuples.reads_labels());
    /// ```
    pub fn reads_labels(self) -> bool {
        matches!(
            self,
            RowKernel::CrossEntropy | RowKernel::Nll | RowKernel::SparseCategorical
        )
    }
}

/// A row loss (section C).
#[derive(Debug)]
///
/// ```
/// let ce = gpu_loss::catalogue::ROWS.iter().find(|l| l.name == "cross_entropy").unwrap();
/// assert!(ce.takes("weight"));
/// ```
pub struct RowLoss {
    /// The loss's catalogue name.
    pub name: &'static str,
    /// The row kernel that runs it.
    pub kernel: RowKernel,
    /// In the order the kernel reads them (seg.params.x, .y, ...).
    pub params: &'static [ParamSpec],
    /// Its tensors, required first.
    pub tensors: &'static [TensorSpec],
    /// The tensors that get a gradient, in order (the first is `grad`).
    pub grads: &'static [&'static str],
    /// Its float64 twin.
    pub twin: Twin,
    /// Whose definition it follows.
    pub follows: &'static str,
}

impl RowLoss {
    /// The tensors that get a gradient, in order.
    ///
    /// ```
    /// let triplet = gpu_loss::catalogue::ROWS.iter().find(|l| l.name == "triplet_margin").unwrap();
    /// assert_eq!(triplet.grad_tensors().collect::<Vec<_>>(), ["anchor", "positive", "negative"]);
    /// ```
    pub fn grad_tensors(&self) -> impl Iterator<Item = &'static str> {
        self.grads.iter().copied()
    }

    /// Whether it takes a tensor of this name.
    ///
    /// ```
    /// let nll = gpu_loss::catalogue::ROWS.iter().find(|l| l.name == "nll").unwrap();
    /// assert!(nll.takes("weight") && !nll.takes("aux"));
    /// ```
    pub fn takes(&self, tensor: &str) -> bool {
        self.tensors.iter().any(|t| t.name == tensor)
    }
}

const ROWS_SHAPE: &str = "[..., C]";

const fn normal_rows(name: &'static str) -> TensorSpec {
    TensorSpec::floats(name, ROWS_SHAPE, Draw::Normal(Extent::Rows))
}

const fn uniform_rows(name: &'static str, lo: f64, hi: f64) -> TensorSpec {
    TensorSpec::floats(name, ROWS_SHAPE, Draw::Uniform(lo, hi, Extent::Rows))
}

const fn class_labels(shape: &'static str, holds: Holds) -> TensorSpec {
    TensorSpec::floats("target", shape, Draw::Labels(Extent::PerRow)).holding(holds)
}

const CLASS_WEIGHT: TensorSpec = TensorSpec::floats("weight", "[C]", Draw::Skip).optional();

const fn stats(
    name: &'static str,
    params: &'static [ParamSpec],
    tensors: &'static [TensorSpec],
    twin: Twin,
    follows: &'static str,
) -> RowLoss {
    RowLoss {
        name,
        kernel: RowKernel::Stats,
        params,
        tensors,
        grads: &["input"],
        twin,
        follows,
    }
}

/// Probability rows, as the stats losses on probabilities take them.
const PROBABILITY_ROWS: &[TensorSpec] = &[
    uniform_rows("input", 0.01, 1.0),
    uniform_rows("target", 0.0, 1.0),
];

/// Section C's row losses, in LOSSES.md's order.
///
/// ```
/// assert!(gpu_loss::catalogue::ROWS.iter().any(|l| l.name == "cross_entropy"));
/// ```
pub static ROWS: &[RowLoss] = &[
    RowLoss {
        name: "cross_entropy",
        kernel: RowKernel::CrossEntropy,
        params: &[
            ParamSpec::new("ignore_index", -100.0, Rule::Integer),
            ParamSpec::new("label_smoothing", 0.0, Rule::Unit),
            ParamSpec::new("z_loss", 0.0, Rule::NonNegative),
            ParamSpec::new("softcap", f64::NAN, Rule::Positive),
        ],
        tensors: &[
            normal_rows("input"),
            class_labels("[...] (indices) or [..., C]", Holds::IndicesOrProbabilities),
            CLASS_WEIGHT,
        ],
        grads: &["input"],
        twin: twins::cross_entropy,
        follows: "PyTorch CrossEntropyLoss; z_loss and softcap as Liger-Kernel",
    },
    RowLoss {
        name: "nll",
        kernel: RowKernel::Nll,
        params: &[ParamSpec::new("ignore_index", -100.0, Rule::Integer)],
        tensors: &[
            normal_rows("input"),
            class_labels("[...]", Holds::ClassIndices),
            CLASS_WEIGHT,
        ],
        grads: &["input"],
        twin: twins::nll,
        follows: "PyTorch NLLLoss",
    },
    RowLoss {
        name: "sparse_categorical_cross_entropy",
        kernel: RowKernel::SparseCategorical,
        params: &[ParamSpec::new("ignore_class", f64::NAN, Rule::Integer)],
        tensors: &[
            uniform_rows("input", 0.01, 2.0),
            class_labels("[...]", Holds::ClassIndices),
        ],
        grads: &["input"],
        twin: twins::sparse_categorical_cross_entropy,
        follows: "Keras SparseCategoricalCrossentropy",
    },
    stats(
        "js_div",
        &[
            ParamSpec::new("beta", 0.5, Rule::Unit),
            ParamSpec::new("log_input", 0.0, Rule::Bool),
        ],
        PROBABILITY_ROWS,
        twins::js_div,
        "JSD: β·KL(P‖M) + (1 − β)·KL(Q‖M)",
    ),
    stats(
        "cosine_similarity",
        &[ParamSpec::new("eps", 1e-7, Rule::NonNegative)],
        &[normal_rows("input"), normal_rows("target")],
        twins::cosine_similarity,
        "Keras CosineSimilarity (cosine proximity)",
    ),
    stats(
        "dice",
        &[],
        PROBABILITY_ROWS,
        twins::dice,
        "Keras dice with the row's axes",
    ),
    stats(
        "categorical_cross_entropy",
        &[ParamSpec::new("label_smoothing", 0.0, Rule::Unit)],
        PROBABILITY_ROWS,
        twins::categorical_cross_entropy,
        "Keras CategoricalCrossentropy (on probabilities)",
    ),
    RowLoss {
        name: "cosine_embedding",
        kernel: RowKernel::Tuples,
        params: &[ParamSpec::new("margin", 0.0, Rule::Finite)],
        tensors: &[
            normal_rows("input1"),
            normal_rows("input2"),
            TensorSpec::floats("target", "[...]", Draw::Signs).holding(Holds::Signs),
        ],
        grads: &["input1", "input2"],
        twin: twins::cosine_embedding,
        follows: "PyTorch CosineEmbeddingLoss",
    },
    RowLoss {
        name: "triplet_margin",
        kernel: RowKernel::Tuples,
        params: &[
            ParamSpec::new("margin", 1.0, Rule::Finite),
            ParamSpec::new("p", 2.0, Rule::Positive),
            ParamSpec::new("eps", 1e-6, Rule::Finite),
            ParamSpec::new("swap", 0.0, Rule::Bool),
        ],
        tensors: &[
            normal_rows("anchor"),
            normal_rows("positive"),
            normal_rows("negative"),
        ],
        grads: &["anchor", "positive", "negative"],
        twin: twins::triplet_margin,
        follows: "PyTorch TripletMarginLoss",
    },
];
