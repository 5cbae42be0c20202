//! The loss catalogue: one entry per loss of LOSSES.md, and everything about it in that entry:
//! its kernel (the family that runs it), its float64 twin, its tensors (names, dtypes, shapes,
//! how report, bench and tests draw them), its parameters and its reductions. The rest of the
//! crate reads entries; no code outside this module tests a loss by its name.
//!
//! - `elementwise`: sections A, B and kl_div (one WGSL function and its twin per loss).
//! - `rows`: section C's row losses.
//! - `objectives`: section E, each a weighted sum of terms given here as plain data.
//! - `structured`: sections D, F and G, losses with kernels of their own.
//! - `custom`: elementwise losses made at run time from a formula or raw WGSL.

pub mod custom;
mod elementwise;
mod objectives;
mod rows;
mod structured;
mod tensors;

pub use elementwise::{
    elementwise, Aux, Broadcast, Domain, Elementwise, Sampling, WgslFile, ELEMENTWISE, TERMS,
};
pub use objectives::{Objective, Term, DISCRIMINATOR_KINDS, GENERATOR_KINDS, OBJECTIVES};
pub use rows::{RowKernel, RowLoss, ROWS};
pub use structured::{Structured, StructuredKernel, STRUCTURED};
pub use tensors::{names, Draw, Extent, Holds, TensorSpec};

use crate::params::{ParamSpec, Reduction};

/// Any loss of the catalogue.
#[derive(Clone, Copy, Debug)]
///
/// ```
/// for loss in gpu_loss::catalogue::all() {
///     println!("{} ({})", loss.name(), loss.follows());
/// }
/// ```
pub enum Loss {
    /// Sections A, B and kl_div.
    Elementwise(&'static Elementwise),
    /// Section C's row losses.
    Row(&'static RowLoss),
    /// Section E's objectives.
    Objective(&'static Objective),
    /// Sections D, F and G.
    Structured(&'static Structured),
}

impl Loss {
    /// The family whose tuned launch settings this loss's kernels run with (an objective's:
    /// its elementwise terms'); None for kernels that take the hand-picked settings.
    ///
    /// ```
    /// use gpu_loss::{catalogue, TuneFamily};
    /// assert_eq!(catalogue::find("huber").unwrap().tuned_family(), Some(TuneFamily::Elementwise));
    /// assert_eq!(catalogue::find("ssim").unwrap().tuned_family(), None);
    /// ```
    pub fn tuned_family(self) -> Option<crate::tuning::TuneFamily> {
        use crate::tuning::TuneFamily;
        match self {
            Loss::Elementwise(_) | Loss::Objective(_) => Some(TuneFamily::Elementwise),
            Loss::Row(_) => Some(TuneFamily::Rows),
            Loss::Structured(_) => None,
        }
    }

    /// Whether its float tensors may be f16 or bf16 (sections A, B and C; the others take
    /// f32 and refuse a half tensor with `LossError::Buffer`).
    ///
    /// ```
    /// use gpu_loss::catalogue::find;
    /// assert!(find("cross_entropy").unwrap().takes_halves());
    /// assert!(!find("ssim").unwrap().takes_halves());
    /// ```
    pub fn takes_halves(self) -> bool {
        matches!(self, Loss::Elementwise(_) | Loss::Row(_))
    }

    /// Its name.
    ///
    /// ```
    /// let huber = gpu_loss::catalogue::find("huber").unwrap();
    /// assert_eq!(huber.name(), "huber");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Loss::Elementwise(l) => l.name,
            Loss::Row(l) => l.name,
            Loss::Objective(o) => o.name,
            Loss::Structured(s) => s.name,
        }
    }

    /// Whose definition it follows (PyTorch, Keras, a paper).
    ///
    /// ```
    /// println!("{}", gpu_loss::catalogue::find("huber").unwrap().follows()); // "PyTorch HuberLoss"
    /// ```
    pub fn follows(self) -> &'static str {
        match self {
            Loss::Elementwise(l) => l.follows,
            Loss::Row(l) => l.follows,
            Loss::Objective(o) => o.follows,
            Loss::Structured(s) => s.follows,
        }
    }

    /// Its parameters, with defaults and rules.
    ///
    /// ```
    /// let huber = gpu_loss::catalogue::find("huber").unwrap();
    /// assert_eq!(huber.params()[0].name, "delta");
    /// ```
    pub fn params(self) -> &'static [ParamSpec] {
        match self {
            Loss::Elementwise(l) => l.params,
            Loss::Row(l) => l.params,
            Loss::Objective(o) => o.params,
            Loss::Structured(s) => s.params,
        }
    }

    /// Its tensors, required first, in LOSSES.md's order.
    ///
    /// ```
    /// let names: Vec<_> = gpu_loss::catalogue::find("mse").unwrap().tensors().iter().map(|t| t.name).collect();
    /// assert!(names.contains(&"input") && names.contains(&"target"));
    /// ```
    pub fn tensors(self) -> Vec<TensorSpec> {
        match self {
            Loss::Elementwise(l) => l.tensors(),
            Loss::Row(l) => l.tensors.to_vec(),
            Loss::Objective(o) => o.tensors.to_vec(),
            Loss::Structured(s) => s.tensors.to_vec(),
        }
    }

    /// The spec of its tensor `name`, if it takes one.
    ///
    /// ```
    /// let loss = gpu_loss::catalogue::find("gaussian_nll").unwrap();
    /// assert!(loss.tensor("var").is_some());
    /// ```
    pub fn tensor(self, name: &str) -> Option<TensorSpec> {
        self.tensors().into_iter().find(|t| t.name == name)
    }

    /// The tensors that get a gradient, in order: `grad` is the first's, `other_grads` the
    /// rest's.
    ///
    /// ```
    /// assert_eq!(gpu_loss::catalogue::find("mse").unwrap().grad_tensors(), vec!["input"]);
    /// ```
    pub fn grad_tensors(self) -> Vec<&'static str> {
        match self {
            Loss::Elementwise(_) => vec!["input"],
            Loss::Row(l) => l.grads.to_vec(),
            Loss::Objective(o) => o.grads.to_vec(),
            Loss::Structured(s) => s.grads.to_vec(),
        }
    }

    /// The reductions it takes.
    ///
    /// ```
    /// use gpu_loss::Reduction;
    /// assert!(gpu_loss::catalogue::find("kl_div").unwrap().reductions().contains(&Reduction::BatchMean));
    /// ```
    pub fn reductions(self) -> Vec<Reduction> {
        match self {
            Loss::Elementwise(l) if l.batchmean => Reduction::ALL
                .into_iter()
                .chain([Reduction::BatchMean])
                .collect(),
            Loss::Objective(_) => vec![Reduction::Mean],
            Loss::Structured(s) => s.reductions.to_vec(),
            _ => Reduction::ALL.to_vec(),
        }
    }
}

/// Every loss of the catalogue, in LOSSES.md's order of sections.
///
/// ```
/// assert!(gpu_loss::catalogue::all().count() >= 42);
/// ```
pub fn all() -> impl Iterator<Item = Loss> {
    ELEMENTWISE
        .iter()
        .map(Loss::Elementwise)
        .chain(ROWS.iter().map(Loss::Row))
        .chain(OBJECTIVES.iter().map(Loss::Objective))
        .chain(STRUCTURED.iter().map(Loss::Structured))
}

/// The loss (or objective) with this name or alias.
///
/// ```
/// assert_eq!(gpu_loss::catalogue::find("l1").unwrap().name(), "mae"); // an alias
/// assert!(gpu_loss::catalogue::find("nope").is_none());
/// ```
pub fn find(name: &str) -> Option<Loss> {
    all().find(|l| {
        l.name() == name || matches!(l, Loss::Elementwise(e) if e.aliases.contains(&name))
    })
}
