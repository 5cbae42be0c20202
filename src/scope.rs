//! What wgpu reports outside the library's own checks (a validation error, out of memory, a
//! lost device) becomes a typed error, never wgpu's default panic; and the context says
//! whether it can go on: after a validation or memory error it can (the pool drops what the
//! failed submission may have left mapped), after a lost device it cannot.

use crate::context::GpuContext;
use crate::error::{LossError, Result};

impl GpuContext {
    /// An error if the device is known to be lost: nothing on it can run again.
    pub(crate) fn alive(&self) -> Result<()> {
        let lost = self.inner.lost.lock().unwrap_or_else(|e| e.into_inner());
        match lost.as_ref() {
            Some(why) => Err(LossError::DeviceLost {
                adapter: self.adapter_name(),
                reason: why.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Runs `f` inside validation and out-of-memory error scopes, so that a wgpu error in it
    /// is a typed error, not a panic in wgpu's default handler. What the scopes caught is the
    /// cause of whatever `f` returned then (a failed submission's wait), so it wins; a device
    /// lost meanwhile wins over both.
    pub(crate) fn scoped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.alive()?;
        let device = &self.inner.device;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let outcome = f();
        // Resolved at once on wgpu-core's backends: no wait, in the async paths too.
        let oom = pollster::block_on(memory.pop());
        let invalid = pollster::block_on(validation.pop());
        self.recover(match (oom, invalid) {
            (Some(e), _) => Err(LossError::OutOfMemory(e.to_string())),
            (None, Some(e)) => Err(LossError::Gpu(e.to_string())),
            (None, None) => outcome,
        })
    }

    /// After wgpu's error (a scope's, or a readback's outside one): the pool drops what the
    /// failed submission may have left mapped, and a lost device says so.
    pub(crate) fn recover<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(LossError::Gpu(_) | LossError::OutOfMemory(_)) = result {
            // Buffers of a failed submission may be left mapped or pending a map, and would
            // fail every later call that reused them: the idle ones are dropped.
            self.inner.pool.clear();
            // A destroyed device reports its loss from a poll.
            let _ = self.inner.device.poll(wgpu::PollType::Poll);
            self.alive()?;
        }
        result
    }
}
