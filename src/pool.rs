//! Scratch buffers (partials, status words, results, staging, outputs) come from a pool and go
//! back to it when dropped, so a steady stream of calls allocates no new buffers.
//!
//! Returning a buffer while the GPU may still use it is safe: the next user only touches it
//! through commands queued after the previous ones (wgpu orders them); only CPU-side writes
//! could race, and pooled buffers never receive those.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Buffers kept per size class; more than this are freed.
const KEEP_PER_CLASS: usize = 8;

pub(crate) struct Pool {
    device: wgpu::Device,
    max_buffer_size: u64,
    free: Mutex<HashMap<(u64, wgpu::BufferUsages), Vec<wgpu::Buffer>>>,
}

impl Pool {
    pub(crate) fn new(device: wgpu::Device, max_buffer_size: u64) -> Arc<Pool> {
        Arc::new(Pool {
            device,
            max_buffer_size,
            free: Mutex::new(HashMap::new()),
        })
    }

    /// Sizes round up to one of 8 steps per power of two (at most 12.5% slack).
    fn class(&self, size: u64) -> u64 {
        let size = size.max(16);
        let step = (size.next_power_of_two() / 8).max(16);
        size.div_ceil(step)
            .saturating_mul(step)
            .min(self.max_buffer_size.max(size))
    }

    /// A buffer of at least `size` bytes with exactly `usage`.
    pub(crate) fn take(self: &Arc<Self>, size: u64, usage: wgpu::BufferUsages) -> Pooled {
        let class = self.class(size);
        let reused = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&(class, usage))
            .and_then(Vec::pop);
        let buffer = reused.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("gpu-loss scratch"),
                size: class,
                usage,
                mapped_at_creation: false,
            })
        });
        Pooled {
            buffer,
            pool: Arc::clone(self),
            discard: false.into(),
        }
    }

    fn give(&self, buffer: wgpu::Buffer) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let list = free.entry((buffer.size(), buffer.usage())).or_default();
        if list.len() < KEEP_PER_CLASS {
            list.push(buffer);
        }
    }

    /// Drops every idle buffer (after a failed submission, whose buffers' state is unknown).
    pub(crate) fn clear(&self) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Buffers currently idle in the pool (for tests of the no-allocation promise).
    pub(crate) fn idle(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// A pooled buffer; back to the pool on drop.
pub(crate) struct Pooled {
    buffer: wgpu::Buffer,
    pool: Arc<Pool>,
    discard: std::sync::atomic::AtomicBool,
}

impl Pooled {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Keeps the buffer out of the pool when this handle drops (its map may never finish).
    pub(crate) fn discard(&self) {
        self.discard
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Pooled {
    /// A buffer marked `discard` (still mapped, or waiting for a map a failed submission will
    /// never finish) is dropped instead: handed to another call (another thread's, on a shared
    /// context), it would fail that call's submission.
    fn drop(&mut self) {
        if !self.discard.load(std::sync::atomic::Ordering::Relaxed) {
            self.pool.give(self.buffer.clone());
        }
    }
}
