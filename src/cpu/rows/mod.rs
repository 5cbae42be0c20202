//! Float64 references for the row losses of LOSSES.md section C: one public function per loss,
//! each on row-major [N, C] tensors (leading axes already flattened, C = `classes`), returning
//! the reduced value or the per-row losses, and the gradient of the reduced loss with respect
//! to each prediction tensor.
//!
//! Each follows the framework LOSSES.md names, edges included: PyTorch's weighted mean and
//! ignore_index, Liger-Kernel's z_loss and softcap, Keras's rescale-then-clip and its masked
//! mean, ATen's 1e-12 in cosine_embedding and the eps inside pairwise_distance. Gradients are
//! written out by hand; tests/rows_reference.rs checks them against central differences and
//! against the frameworks' own numbers (the conformance cases).
//!
//! Checks, in order: the reduction, the shapes, the parameters, NaN in any tensor (first
//! index; nll, a gather, only in what it reads), then the labels (first bad row).
//!
//! One file per family: `classes` (the cross-entropies and nll, on class labels or
//! probabilities), `divergences` (kl_div, whose term cpu::elementwise shares, and js_div),
//! `similarities` (cosine_similarity, dice), `tuples` (two or three tensors with a gradient
//! each). This file holds what they share: the result, the checks, the compensated sum and the
//! reduction.

mod classes;
mod divergences;
mod shared;
mod similarities;
mod tuples;

pub use classes::{
    categorical_cross_entropy, cross_entropy, nll, sparse_categorical_cross_entropy, ClassTarget,
    CrossEntropy,
};
pub(crate) use divergences::kl_term;
pub use divergences::{js_div, kl_div};
pub use similarities::{cosine_similarity, dice};
pub use tuples::{cosine_embedding, triplet_margin};

pub use shared::{class_rows, RowResult};
pub(crate) use shared::{no_nan, sum, Reducer};
