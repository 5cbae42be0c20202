//! Reading GPU memory back to the host, as a future: a staging buffer's `map_async`, whose
//! callback completes a futures-intrusive oneshot channel. How the future waits is its
//! [`Drive`]: the async API polls the device without blocking (`PollType::Poll`) and asks to
//! be polled again; the blocking API is the same future under `pollster::block_on`, waiting
//! in `PollType::Wait` for its submission, as it always did (no spinning, no extra latency).

use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::pool::Pooled;
use futures_intrusive::channel::shared::{oneshot_channel, OneshotReceiver};
use parking_lot::ReentrantMutexGuard;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// How a readback waits for the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drive {
    /// The blocking calls: `device.poll(Wait)` for the submission, the GL lock waited for.
    Block,
    /// The async calls: `Pending` once right after submitting, then one `device.poll(Poll)`
    /// per poll of the future, `Pending` with a wake-up asked for until the map is done; the GL
    /// lock only tried. Never blocks the executor's thread.
    Yield,
}

/// The GL lock when held (or None on other backends); see [`GpuContext::gl_lock`].
type GlGuard = Option<ReentrantMutexGuard<'static, ()>>;

impl Drive {
    /// The process's GL lock for a section of GL work: waited for when blocking; when
    /// yielding, tried, and yielded on while another thread holds it. Dropped before the
    /// next `.await`: a guard never lives across one (it is not `Send`).
    pub(crate) async fn gl_lock(self, ctx: &GpuContext) -> GlGuard {
        match self {
            Drive::Block => ctx.gl_lock(),
            Drive::Yield => {
                poll_fn(|cx| match ctx.try_gl_lock() {
                    Some(guard) => Poll::Ready(guard),
                    None => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await
            }
        }
    }
}

/// How a map ended: wgpu's outcome, or None if its callback was dropped uncalled.
type MapDone = Option<std::result::Result<(), wgpu::BufferAsyncError>>;

/// A staging buffer being mapped for reading once a submission is done. Dropped before it
/// finishes (a cancelled future), the buffer stays out of the pool: its map may be pending.
pub(crate) struct Mapping {
    staging: Pooled,
    bytes: u64,
    idx: wgpu::SubmissionIndex,
    done: OneshotReceiver<std::result::Result<(), wgpu::BufferAsyncError>>,
    finished: bool,
}

impl GpuContext {
    /// Starts mapping the first `bytes` of `staging` once submission `idx` is done; nothing
    /// waits until [`Mapping::read`] is awaited.
    pub(crate) fn start_map(
        &self,
        staging: Pooled,
        bytes: u64,
        idx: wgpu::SubmissionIndex,
    ) -> Mapping {
        let (tx, done) = oneshot_channel();
        staging
            .buffer()
            .map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
                let _ = tx.send(r);
            });
        Mapping {
            staging,
            bytes,
            idx,
            done,
            finished: false,
        }
    }

    /// Maps `bytes` of a MAP_READ buffer once submission `idx` is done, and copies them out
    /// (blocking). A staging buffer whose map fails stays out of the pool.
    pub(crate) fn map_read(
        &self,
        staging: Pooled,
        bytes: u64,
        idx: wgpu::SubmissionIndex,
    ) -> Result<Vec<u8>> {
        pollster::block_on(self.start_map(staging, bytes, idx).read(self, Drive::Block))
    }
}

impl Mapping {
    /// The mapped bytes, once the GPU is done. A failure is typed as inside an error scope:
    /// the pool drops its idle buffers, and a lost device says so.
    pub(crate) async fn read(mut self, ctx: &GpuContext, drive: Drive) -> Result<Vec<u8>> {
        let mapped = self.wait(ctx, drive).await.and_then(|()| {
            let buffer = self.staging.buffer();
            let out = buffer
                .get_mapped_range(0..self.bytes)
                .map_err(|e| LossError::Gpu(e.to_string()))?
                .to_vec();
            buffer.unmap();
            Ok(out)
        });
        self.finished = mapped.is_ok();
        ctx.recover(mapped)
    }

    /// Resolves when the map's callback has run, polling the device as `drive` says.
    async fn wait(&self, ctx: &GpuContext, drive: Drive) -> Result<()> {
        let mut done = pin!(self.done.receive());
        let outcome = |r: MapDone| match r {
            Some(r) => r.map_err(|e| LossError::Gpu(e.to_string())),
            None => Err(LossError::Gpu("the buffer's map was dropped".into())),
        };
        // The async calls yield once right after submitting, before any poll of the device:
        // other tasks on the executor then submit theirs while this one's work runs (a
        // CPU driver may otherwise finish it during the first poll, one call at a time).
        let mut submitted_only = drive == Drive::Yield;
        poll_fn(|cx| {
            if std::mem::take(&mut submitted_only) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Poll::Ready(r) = done.as_mut().poll(cx) {
                return Poll::Ready(outcome(r));
            }
            let polled = match drive {
                Drive::Block => {
                    let _serial = ctx.gl_lock();
                    ctx.wait(self.idx.clone())
                }
                // Another thread holding the GL lock is polling or submitting: next time.
                Drive::Yield => match ctx.try_gl_lock() {
                    Some(_serial) => ctx.alive().and_then(|()| {
                        ctx.device()
                            .poll(wgpu::PollType::Poll)
                            .map(|_| ())
                            .map_err(|e| LossError::Gpu(e.to_string()))
                    }),
                    None => Ok(()),
                },
            };
            if let Err(e) = polled {
                return Poll::Ready(Err(e));
            }
            if let Poll::Ready(r) = done.as_mut().poll(cx) {
                return Poll::Ready(outcome(r));
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if !self.finished {
            self.staging.discard();
        }
    }
}
