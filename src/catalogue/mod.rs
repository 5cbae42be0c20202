//! The loss catalogue: one entry per loss of LOSSES.md, and everything about it in that entry:
//! its kernel (the family that runs it), its float64 twin, its tensors (names, dtypes, shapes,
//! how report, bench and tests draw them), its parameters and its reductions. The rest of the
//! crate reads entries; no code outside this module tests a loss by its name.
//!
//! - `elementwise`: sections A, B and kl_div (one WGSL function and its twin per loss).
//! - `rows`: section C's row losses.
//! - `objectives`: section E, each a weighted sum of terms given here as plain data.
//! - `structured`: sections D and F, losses with kernels of their own.

mod elementwise;
mod objectives;
mod rows;
mod structured;

pub use elementwise::{
    elementwise, Aux, Broadcast, Domain, Elementwise, Family, Sampling, ELEMENTWISE, TERMS,
};
pub use objectives::{Objective, Term, DISCRIMINATOR_KINDS, GENERATOR_KINDS, OBJECTIVES};
pub use rows::{RowKernel, RowLoss, ROWS};
pub use structured::{Structured, StructuredKernel, STRUCTURED};

use crate::params::{ParamSpec, Reduction};

/// What a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    Floats,
    /// Class indices, int32 or int64.
    ClassIndices,
    /// Class indices, or float32 probabilities of the input's shape (cross_entropy's target).
    IndicesOrProbabilities,
    /// One float32 label per row, ±1.
    Signs,
}

impl Holds {
    /// The dtypes `list` names.
    pub fn dtypes(self) -> &'static str {
        match self {
            Holds::Floats => "float32",
            Holds::ClassIndices => "int32 | int64",
            Holds::IndicesOrProbabilities => "int32 | int64 | float32",
            Holds::Signs => "float32 (±1)",
        }
    }

    /// Whether integer arrays given for this tensor stay integers (class labels).
    pub fn takes_indices(self) -> bool {
        matches!(self, Holds::ClassIndices | Holds::IndicesOrProbabilities)
    }
}

/// The shape a drawn tensor takes, from the workload's size: n elements, or rows × cols (an
/// element count gives rows of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// `[rows, cols]`
    Rows,
    /// `[rows]`, one label (of `cols` classes) or one ±1 per row
    PerRow,
    /// `[1, rows, cols]`: one image plane
    Plane,
    /// `[64, n/64]` feature maps, or `[rows, cols]`
    Features,
    /// `[n]`
    Samples,
    /// `[n/2 + 1]`: a second sample set of another size
    HalfSamples,
    /// `[n/64]`: discriminator outputs
    Scores,
    /// `[256, 8]`: an auxiliary classifier's logits
    ClassScores,
    /// `[256]` labels of 8 classes
    ClassLabels,
    /// `[n]`: images, flattened
    Image,
}

/// How report, bench and tests draw a tensor's values (src/sample.rs draws them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draw {
    /// 2·N(0, 1)
    Normal(Extent),
    /// Uniform in [lo, hi)
    Uniform(f64, f64, Extent),
    /// Class indices, uniform over the classes
    Labels(Extent),
    /// ±1 per row (every third +1)
    Signs,
    /// Non-negative histogram mass leaning to the first bins (`true`) or the last: two such
    /// rows' CDFs differ clearly until both reach 1.
    Ramp(bool),
    /// Not drawn: an optional tensor the workloads leave out.
    Skip,
}

/// One tensor of a row loss, objective or structured loss.
#[derive(Clone, Copy, Debug)]
pub struct TensorSpec {
    pub name: &'static str,
    pub required: bool,
    pub holds: Holds,
    /// The shape, as `list` prints it.
    pub shape: &'static str,
    pub draw: Draw,
}

impl TensorSpec {
    /// A required float32 tensor.
    pub const fn floats(name: &'static str, shape: &'static str, draw: Draw) -> TensorSpec {
        TensorSpec {
            name,
            required: true,
            holds: Holds::Floats,
            shape,
            draw,
        }
    }

    pub const fn holding(self, holds: Holds) -> TensorSpec {
        TensorSpec { holds, ..self }
    }

    pub const fn optional(self) -> TensorSpec {
        TensorSpec {
            required: false,
            ..self
        }
    }
}

/// The names of `tensors`, in order.
pub fn names(tensors: &[TensorSpec]) -> Vec<&'static str> {
    tensors.iter().map(|t| t.name).collect()
}

/// Any loss of the catalogue.
#[derive(Clone, Copy, Debug)]
pub enum Loss {
    Elementwise(&'static Elementwise),
    Row(&'static RowLoss),
    Objective(&'static Objective),
    Structured(&'static Structured),
}

impl Loss {
    pub fn name(self) -> &'static str {
        match self {
            Loss::Elementwise(l) => l.name,
            Loss::Row(l) => l.name,
            Loss::Objective(o) => o.name,
            Loss::Structured(s) => s.name,
        }
    }

    pub fn follows(self) -> &'static str {
        match self {
            Loss::Elementwise(l) => l.follows,
            Loss::Row(l) => l.follows,
            Loss::Objective(o) => o.follows,
            Loss::Structured(s) => s.follows,
        }
    }

    pub fn params(self) -> &'static [ParamSpec] {
        match self {
            Loss::Elementwise(l) => l.params,
            Loss::Row(l) => l.params,
            Loss::Objective(o) => o.params,
            Loss::Structured(s) => s.params,
        }
    }

    /// Its tensors, required first, in LOSSES.md's order.
    pub fn tensors(self) -> Vec<TensorSpec> {
        match self {
            Loss::Elementwise(l) => l.tensors(),
            Loss::Row(l) => l.tensors.to_vec(),
            Loss::Objective(o) => o.tensors.to_vec(),
            Loss::Structured(s) => s.tensors.to_vec(),
        }
    }

    /// The spec of its tensor `name`, if it takes one.
    pub fn tensor(self, name: &str) -> Option<TensorSpec> {
        self.tensors().into_iter().find(|t| t.name == name)
    }

    /// The tensors that get a gradient, in order: `grad` is the first's, `other_grads` the
    /// rest's.
    pub fn grad_tensors(self) -> Vec<&'static str> {
        match self {
            Loss::Elementwise(_) => vec!["input"],
            Loss::Row(l) => l.grads.to_vec(),
            Loss::Objective(o) => o.grads.to_vec(),
            Loss::Structured(s) => s.grads.to_vec(),
        }
    }

    /// The reductions it takes.
    pub fn reductions(self) -> Vec<Reduction> {
        match self {
            Loss::Elementwise(l) if l.batchmean => Reduction::ALL
                .into_iter()
                .chain([Reduction::BatchMean])
                .collect(),
            Loss::Objective(_) => vec![Reduction::Mean],
            _ => Reduction::ALL.to_vec(),
        }
    }
}

/// Every loss of the catalogue, in LOSSES.md's order of sections.
pub fn all() -> impl Iterator<Item = Loss> {
    ELEMENTWISE
        .iter()
        .map(Loss::Elementwise)
        .chain(ROWS.iter().map(Loss::Row))
        .chain(OBJECTIVES.iter().map(Loss::Objective))
        .chain(STRUCTURED.iter().map(Loss::Structured))
}

/// The loss (or objective) with this name or alias.
pub fn find(name: &str) -> Option<Loss> {
    all().find(|l| {
        l.name() == name || matches!(l, Loss::Elementwise(e) if e.aliases.contains(&name))
    })
}
