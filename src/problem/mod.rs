//! Validation, one place per kernel family: a call's loss, shapes, dtypes, resolved
//! parameters and reduction become a problem the kernels record (and, for the elementwise
//! family, the float64 reference evaluates), or the typed error that names what was wrong.
//!
//! - `elementwise`: sections A and B, kl_div and the objectives' terms.
//! - `rows`: section C (the cross-entropy, row-statistics and row-tuples kernels).
//! - `structured`: sections D and F (total_variation, wasserstein_1d and its samples form,
//!   the feature maps of gram and style_loss).
//! - `images`: section G (ssim, ms_ssim, psnr).

mod elementwise;
pub mod images;
pub mod rows;
pub mod structured;

pub use elementwise::{AuxLayout, Problem, Shapes};
