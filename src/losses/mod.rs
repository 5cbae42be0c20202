//! Typed losses: one Rust type per catalogue entry, its parameters as fields with the
//! catalogue's defaults, so that the compiler checks names and types the by-name builder
//! checks at run time.
//!
//! ```no_run
//! use gpu_loss::losses::{CrossEntropy, Huber};
//! use gpu_loss::{GpuContext, Reduction};
//! let ctx = GpuContext::new()?;
//! let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
//! let y = ctx.upload(&[0.0, 2.5, 1.0], &[3])?;
//! // The mean, as a value:
//! let v = ctx.eval(&Huber { delta: 0.5 }, &x, &y)?;
//! // The builder, parameters set: reductions, weights, gradients and recording as by name.
//! let out = ctx.call(&Huber { delta: 0.5 }).input(&x).target(&y).with_grad().run()?;
//! // Struct update for the parameters left at their defaults:
//! let ce = CrossEntropy { label_smoothing: 0.1, ..Default::default() };
//! # Ok::<(), gpu_loss::LossError>(())
//! ```
//!
//! The types are written from one table (`table.rs`); a test walks the catalogue and fails
//! for an entry without a type here, or one whose fields, defaults or words differ from its
//! parameters.

#[macro_use]
mod define;
mod table;
#[cfg(test)]
mod tests;

pub use table::*;

use crate::call::{IntoLossCall, LossCall};
use crate::context::GpuContext;
use crate::error::Result;
use crate::params::ParamValue;
use crate::tensor::Tensor;

/// A loss of the catalogue as a Rust type (implemented by every type of [`crate::losses`],
/// and only by them).
///
/// ```
/// use gpu_loss::losses::Focal;
/// use gpu_loss::TypedLoss;
/// let focal = Focal { gamma: 1.5, ..Default::default() };
/// assert_eq!(focal.name(), "focal");
/// assert_eq!(focal.params().len(), 2);
/// ```
pub trait TypedLoss: sealed::Fields {
    /// Its name in the catalogue (and LOSSES.md, `gpu-loss list`).
    ///
    /// ```
    /// use gpu_loss::{losses::Huber, TypedLoss};
    /// assert_eq!(Huber::default().name(), "huber");
    /// ```
    fn name(&self) -> &'static str;

    /// Its parameters as [`LossCall::param`] takes them, in the catalogue's order; an
    /// optional parameter left at `None` is not given.
    ///
    /// ```
    /// use gpu_loss::{losses::CrossEntropy, ParamValue, TypedLoss};
    /// let ce = CrossEntropy { label_smoothing: 0.1, ..Default::default() };
    /// let params = ce.params(); // softcap, left at None, is not given
    /// assert_eq!(params[1], ("label_smoothing", ParamValue::Number(0.1)));
    /// assert!(params.iter().all(|(name, _)| *name != "softcap"));
    /// ```
    fn params(&self) -> Vec<(&'static str, ParamValue)> {
        self.fields()
            .into_iter()
            .filter_map(|f| Some((f.name, f.value?)))
            .collect()
    }
}

pub(crate) mod sealed {
    use crate::params::ParamValue;

    /// One field of a typed loss, as the catalogue test compares it with the parameter.
    pub struct Field {
        pub name: &'static str,
        pub value: Option<ParamValue>,
        /// The words an enum field takes (its variants), None for other types.
        pub words: Option<&'static [&'static str]>,
    }

    /// The fields of a typed loss; outside the crate no type can implement it, so every
    /// [`super::TypedLoss`] is one of the table's, which the catalogue test checks.
    pub trait Fields {
        fn fields(&self) -> Vec<Field>;
    }
}

/// A field type: how its value reaches the builder.
pub(crate) trait Param {
    fn value(&self) -> Option<ParamValue>;
    fn words() -> Option<&'static [&'static str]> {
        None
    }
}

impl Param for f64 {
    fn value(&self) -> Option<ParamValue> {
        Some(ParamValue::Number(*self))
    }
}

impl Param for i64 {
    fn value(&self) -> Option<ParamValue> {
        // Class labels: every i64 the kernel compares is a whole float64 within i64's range.
        Some(ParamValue::Number(*self as f64))
    }
}

impl Param for u32 {
    fn value(&self) -> Option<ParamValue> {
        Some(ParamValue::Number(f64::from(*self)))
    }
}

impl Param for bool {
    fn value(&self) -> Option<ParamValue> {
        Some(ParamValue::Bool(*self))
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Option<ParamValue> {
        self.as_ref().and_then(Param::value)
    }
    fn words() -> Option<&'static [&'static str]> {
        T::words()
    }
}

impl<L: TypedLoss + ?Sized> IntoLossCall for &L {
    /// The by-name builder with the loss's parameters set, so reductions, weights, gradients
    /// and recording work the same.
    fn start<'c>(self, ctx: &'c GpuContext) -> LossCall<'c> {
        let entry = crate::catalogue::find(self.name())
            .expect("every typed loss is a catalogue entry (src/losses/tests.rs)");
        self.params()
            .into_iter()
            .fold(ctx.call(entry), |call, (name, value)| {
                call.param(name, value)
            })
    }
}

impl GpuContext {
    /// The mean of a typed loss of `input` against `target`, blocking until it is read back.
    /// Losses whose tensors have other names (`anchor`, `real`, ...) go through
    /// [`GpuContext::call`] and [`LossCall::tensor`].
    ///
    /// ```no_run
    /// use gpu_loss::losses::Huber;
    /// use gpu_loss::GpuContext;
    /// let ctx = GpuContext::new()?;
    /// let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// let y = ctx.upload(&[0.0, 2.5, 1.0], &[3])?;
    /// let v = ctx.eval(&Huber { delta: 0.5 }, &x, &y)?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn eval<L: TypedLoss + ?Sized>(
        &self,
        loss: &L,
        input: &Tensor,
        target: &Tensor,
    ) -> Result<f32> {
        self.call(loss).input(input).target(target).value()
    }

    /// [`GpuContext::eval`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// use gpu_loss::losses::Mse;
    /// use gpu_loss::GpuContext;
    /// let ctx = GpuContext::new()?;
    /// let x = ctx.upload(&[0.5, 2.0], &[2])?;
    /// let y = ctx.upload(&[0.0, 2.5], &[2])?;
    /// let v = pollster::block_on(ctx.eval_async(&Mse, &x, &y))?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn eval_async<'a, L: TypedLoss + ?Sized>(
        &'a self,
        loss: &L,
        input: &'a Tensor,
        target: &'a Tensor,
    ) -> impl std::future::Future<Output = Result<f32>> + Send + 'a {
        self.call(loss).input(input).target(target).value_async()
    }
}
