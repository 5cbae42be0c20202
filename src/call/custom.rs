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
