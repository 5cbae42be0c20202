//! gpu-loss: machine-learning loss functions as fused WGSL compute kernels, on any GPU wgpu
//! reaches (Vulkan, Metal, DX12, GL), each checked against a float64 CPU reference.
//!
//! ```no_run
//! use gpu_loss::{GpuContext, Reduction};
//! let ctx = GpuContext::new()?;
//! let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
//! let y = ctx.upload(&[0.0, 2.5, 1.0], &[3])?;
//! let loss = ctx.loss("huber")?.input(&x).target(&y).param("delta", 0.5).value()?;
//! let out = ctx.loss("mse")?.input(&x).target(&y).reduction(Reduction::Sum).with_grad().run()?;
//! let grad = ctx.download(out.grad.as_ref().unwrap())?;
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! See ARCHITECTURE.md for how one call flows from this API to the shader and back.

pub mod autotune;
pub mod call;
pub mod catalogue;
pub mod context;
pub mod cpu;
pub mod error;
pub mod formula;
mod halves;
mod kernel;
pub mod npy;
pub mod params;
mod pool;
pub mod problem;
pub mod sample;
mod scope;
mod serial;
pub mod status;
pub mod tensor;
pub mod texture;
pub mod timing;
pub mod tuning;

pub use call::{Computed, LossCall, Recorded, SumComputed, WeightedSum};
pub use call::{StyleLayer, StyleLosses};
pub use context::{adapters, GpuContext};
pub use error::{LossError, Result};
pub use half;
pub use halves::Half;
pub use params::{ParamValue, Reduction};
pub use tensor::{DType, Tensor};
pub use tuning::{TuneFamily, Tuning, TuningMode};
