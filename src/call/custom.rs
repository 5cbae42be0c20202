//! Custom losses through the builder: a formula or raw WGSL becomes a catalogue-like entry
//! (`catalogue::custom`) and runs as any elementwise loss does.

use super::LossCall;
use crate::catalogue::{custom, Loss};
use crate::context::GpuContext;
use crate::error::{LossError, Result};

impl GpuContext {
    /// Starts a call of the loss the formula `text` defines (README, "Custom losses"), e.g.
    /// `ctx.custom("cauchy1", "log(1 + (x - y)^2)")?.input(&x).target(&y).with_grad().run()`.
    /// Parameters the formula declares (`delta = 1.0; ...`) are set with `.param`; its `a` is
    /// the tensor `aux`. A formula that cannot be a loss is a `LossError::Custom` naming the
    /// column. Making the same loss again reuses its entry and compiled kernels.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload(&[1.0, 2.0], &[2])?;
    /// let y = ctx.upload(&[0.0, 2.0], &[2])?;
    /// let v = ctx.custom("cauchy1", "log(1 + (x - y)^2)")?.input(&x).target(&y).value()?;
    /// assert!((v - 2f32.ln() / 2.0).abs() < 1e-6); // the mean of ln 2 and ln 1
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn custom(&self, name: &str, text: &str) -> Result<LossCall<'_>> {
        Ok(self.call(Loss::Elementwise(custom::formula(name, text)?)))
    }

    /// A loss given as WGSL, `fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair`
    /// (value and d value / d x; VT is f32 or `vec4<f32>`), with `twin` its float64 value and
    /// derivative (the reference `report` and tests compare with). `params` are (name,
    /// default) read as p.x, p.y, ...; `aux_default` is `a` without an `aux` tensor (None: it
    /// is required). Compiled here: WGSL that does not compile is a `LossError::Custom`. Keep
    /// the returned loss and run it with [`GpuContext::call`]: each call of this makes a new
    /// entry for the life of the process.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[3.0], &[1])?;
    /// # let y = ctx.upload(&[1.0], &[1])?;
    /// let source = "fn custom_loss(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    ///     let e = x - y;
    ///     return Pair(p.x * e * e, 2.0 * p.x * e);
    /// }";
    /// let twin = |x: f64, y: f64, _a: f64, p: &[f64]| (p[0] * (x - y).powi(2), 2.0 * p[0] * (x - y));
    /// let scaled_mse = ctx.custom_wgsl("scaled_mse", source, &[("scale", 2.0)], Some(0.0), twin)?;
    /// assert_eq!(ctx.call(scaled_mse).input(&x).target(&y).value()?, 8.0); // 2 · (3 − 1)²
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn custom_wgsl(
        &self,
        name: &str,
        source: &str,
        params: &[(&str, f64)],
        aux_default: Option<f64>,
        twin: impl Fn(f64, f64, f64, &[f64]) -> (f64, f64) + Send + Sync + 'static,
    ) -> Result<Loss> {
        let entry = custom::wgsl(name, source, params, aux_default, twin)?;
        let _serial = self.gl_lock();
        self.scoped(|| crate::kernel::elementwise::compile(self, entry))
            .map_err(|e| LossError::Custom {
                loss: name.to_string(),
                why: format!("its WGSL does not compile: {e}"),
            })?;
        Ok(Loss::Elementwise(entry))
    }
}
