//! gpu-loss: machine-learning loss functions as fused WGSL compute kernels, on any GPU wgpu
//! reaches (Vulkan, Metal, DX12, GL), each checked against a float64 CPU reference.
//!
//! A [`GpuContext`] holds a device; a loss is called by its catalogue name
//! ([`GpuContext::loss`]) or as a typed value ([`losses`]); tensors are windows of GPU
//! buffers ([`Tensor`]), uploaded or your own. `gpu-loss list` (or LOSSES.md) names every
//! loss, its tensors, parameters and reductions.
//!
//! # Three ways to run a loss
//!
//! ```no_run
//! use gpu_loss::{GpuContext, Reduction};
//! let ctx = GpuContext::new()?;
//! let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
//! let y = ctx.upload(&[0.0, 2.5, 1.0], &[3])?;
//! // 1. value(): the reduced value as f32 (blocking).
//! let mean = ctx.loss("huber")?.input(&x).target(&y).param("delta", 0.5).value()?;
//! // 2. run(): the gradient (and/or per-element losses) stay on the GPU as tensors;
//! //    only the value and a few status words come back.
//! let out = ctx.loss("mse")?.input(&x).target(&y).reduction(Reduction::Sum).with_grad().run()?;
//! let grad: Vec<f32> = ctx.download(out.grad.as_ref().unwrap())?;
//! // 3. record(): into your encoder, for a training step; nothing is read back.
//! let mut enc = ctx.device().create_command_encoder(&Default::default());
//! let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
//! ctx.queue().submit([enc.finish()]);
//! rec.check()?; // later: what the GPU found in the data (NaN, out of domain)
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! # Typed or by name
//!
//! Each catalogue entry is a type in [`losses`] whose fields are its parameters, with the
//! catalogue's defaults: the compiler checks what the by-name builder checks when it runs.
//! [`GpuContext::call`] gives the same builder with the parameters set.
//!
//! ```no_run
//! use gpu_loss::losses::{Focal, Huber};
//! use gpu_loss::GpuContext;
//! # let ctx = GpuContext::new()?;
//! # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
//! # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
//! let typed = ctx.eval(&Huber { delta: 0.5 }, &x, &y)?;
//! let by_name = ctx.loss("huber")?.input(&x).target(&y).param("delta", 0.5).value()?;
//! assert_eq!(typed, by_name);
//! let focal = Focal { gamma: 1.0, ..Default::default() };
//! let out = ctx.call(&focal).input(&x).target(&y).with_grad().run()?;
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! # Async
//!
//! `value_async`, `run_async`, [`Recorded::check_async`], [`GpuContext::download_async`] and
//! [`GpuContext::eval_async`] never block their thread: each poll of the future polls the
//! device once and, until the GPU is done, asks to be polled again. Any executor drives them,
//! and many may be in flight on one context; [`GpuContext`] is `Send + Sync` and cheap to
//! clone. The blocking calls are the same futures, waiting for the GPU instead.
//!
//! ```no_run
//! # use gpu_loss::GpuContext;
//! # let ctx = GpuContext::new()?;
//! # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
//! # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
//! let value = pollster::block_on(async {
//!     let out = ctx.loss("mse")?.input(&x).target(&y).with_grad().run_async().await?;
//!     ctx.download_async(out.grad.as_ref().unwrap()).await
//! })?;
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! # On your device, your buffers
//!
//! A renderer's or trainer's device and queue make a context; its buffers (with `STORAGE`
//! usage) become tensors without a copy.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let adapter = pollster::block_on(wgpu::Instance::default().request_adapter(&Default::default()))?;
//! let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))?;
//! let ctx = gpu_loss::GpuContext::from_device(device.clone(), queue.clone())?;
//! let buffer = device.create_buffer(&wgpu::BufferDescriptor {
//!     label: Some("predictions and targets"),
//!     size: 2 * 4 * 1024,
//!     usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
//!     mapped_at_creation: false,
//! });
//! let x = ctx.wrap(&buffer, 0, &[1024])?;
//! let y = ctx.wrap(&buffer, 4 * 1024, &[1024])?;
//! let mut enc = device.create_command_encoder(&Default::default());
//! let rec = ctx.loss("mse")?.input(&x).target(&y).record(&mut enc)?;
//! queue.submit([enc.finish()]);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Bad input is a typed [`LossError`], never a panic: shapes, parameters, a NaN or a value
//! out of the loss's domain (found on the GPU, with the first offending index), buffers too
//! small or without the usage a call needs; what wgpu reports (validation, out of memory, a
//! lost device) is typed too.
//!
//! ```no_run
//! use gpu_loss::{GpuContext, LossError};
//! # let ctx = GpuContext::new()?;
//! let x = ctx.upload(&[0.5, f32::NAN, 1.0], &[3])?;
//! let y = ctx.upload(&[0.0, 0.0, 0.0], &[3])?;
//! let nan = ctx.loss("mse")?.input(&x).target(&y).value();
//! assert_eq!(nan, Err(LossError::NaN { loss: "mse", tensor: "input", index: 1 }));
//! let bad = ctx.loss("huber")?.input(&x).target(&y).param("delta", -1.0).value();
//! assert!(matches!(bad, Err(LossError::InvalidParam { name: "delta", .. })));
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! See ARCHITECTURE.md for how one call flows from this API to the shader and back.

#![warn(missing_docs)]

pub mod autotune;
pub mod call;
pub mod catalogue;
pub mod context;
pub mod cpu;
pub mod error;
pub mod formula;
mod halves;
mod kernel;
pub mod losses;
mod mapping;
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
mod uploads;

pub use call::weighted::{SumComputed, WeightedSum};
pub use call::{Computed, IntoLossCall, LossCall, Recorded};
pub use call::{StyleLayer, StyleLosses};
pub use context::{adapters, GpuContext};
pub use error::{LossError, Result};
pub use half;
pub use halves::Half;
pub use losses::TypedLoss;
pub use params::{ParamValue, Reduction};
pub use tensor::{DType, Tensor};
pub use tuning::{TuneFamily, Tuning, TuningMode};
