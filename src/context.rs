//! The context: instance, adapter, device and queue, with the per-device state every call
//! shares (tuning, compiled pipelines, scratch pool, uniform cache).

use crate::error::{LossError, Result};
use crate::kernel::Kernels;
use crate::pool::Pool;
use crate::serial::{gl_serial, try_gl_serial};
use crate::tensor::{element_count, Tensor};
use crate::tuning::{Settings, Tuning, TuningMode};
use parking_lot::ReentrantMutexGuard;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Features used when the adapter has them; none is required.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::SUBGROUP
    .union(wgpu::Features::SHADER_F16)
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

/// Uniform buffers kept by content; past this many the cache starts over.
const UNIFORM_CACHE: usize = 4096;

/// A device to run losses on. Cheap to clone; clones share pipelines and scratch buffers.
#[derive(Clone)]
/// `Send + Sync`: threads (and async tasks) call losses on one context at once, each getting
/// its own value.
///
/// ```no_run
/// let ctx = gpu_loss::GpuContext::new()?;
/// let x = &ctx.upload(&[0.5, 2.0], &[2])?;
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         let ctx = ctx.clone(); // one Arc
///         s.spawn(move || ctx.loss("mse")?.input(&x).target(&x).value());
///     }
/// });
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct GpuContext {
    pub(crate) inner: Arc<Inner>,
}

// Shared by threads and async tasks: a change that loses Send or Sync fails to compile here.
const _: fn() = || {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<GpuContext>();
    shared::<crate::Tensor>();
};

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    pub settings: Settings,
    pub kernels: Kernels,
    pub pool: Arc<Pool>,
    uniforms: Mutex<HashMap<Vec<u8>, wgpu::Buffer>>,
    gl: bool,
    /// Bound where a kernel's optional input is absent.
    pub dummy_read: wgpu::Buffer,
    /// Bound where a kernel's optional outputs are absent (one each: no two writes alias).
    pub dummy_out: wgpu::Buffer,
    pub dummy_grad: wgpu::Buffer,
    /// Names the device for the tensors made on it (wgpu's device ids repeat across
    /// instances, so they cannot say whether a buffer is this device's).
    pub token: u64,
    /// Set once wgpu reports the device lost (src/scope.rs).
    pub lost: Lost,
}

/// Live contexts, so that a context on a device another one uses shares its token.
static CONTEXTS: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// The token of a live context on `device`, or a new one. A device this library created
/// itself (`fresh`) is no other context's, whatever wgpu's id says.
fn device_token(device: &wgpu::Device, fresh: bool) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut live = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|c| c.strong_count() > 0);
    let shared = live
        .iter()
        .filter_map(Weak::upgrade)
        .find(|c| !fresh && c.device == *device);
    shared.map_or_else(|| NEXT.fetch_add(1, Ordering::Relaxed), |c| c.token)
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn backends_from_env() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all())
}

/// Every adapter wgpu finds, honouring `WGPU_BACKEND` (e.g. `vulkan`, `gl`).
///
/// ```no_run
/// for a in gpu_loss::adapters() {
///     println!("{:?}", a.get_info());
/// }
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub fn adapters() -> Vec<wgpu::Adapter> {
    pollster::block_on(instance().enumerate_adapters(backends_from_env()))
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?})", info.name, info.backend)
}

impl GpuContext {
    /// A context on the default adapter. Honours `WGPU_BACKEND` (which backends to look at),
    /// `WGPU_ADAPTER_NAME` (a substring of the adapter's name) and `WGPU_POWER_PREF`, as
    /// wgpu's own tools do.
    ///
    /// ```no_run
    /// let ctx = gpu_loss::GpuContext::new()?;
    /// println!("{}", ctx.adapter_name());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn new() -> Result<GpuContext> {
        let all = adapters();
        if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
            let wanted_lc = wanted.to_lowercase();
            let found = all
                .iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&wanted_lc));
            return match found {
                Some(a) => GpuContext::from_adapter(a),
                None => Err(LossError::NoAdapter(format!(
                    " matching WGPU_ADAPTER_NAME={wanted:?} (found: {})",
                    all.iter()
                        .map(|a| describe(&a.get_info()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            };
        }
        let adapter =
            pollster::block_on(instance().request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
                ..Default::default()
            }))
            .ok()
            .or_else(|| all.into_iter().next())
            .ok_or_else(GpuContext::no_adapter)?;
        GpuContext::from_adapter(&adapter)
    }

    /// No adapter at all: names `WGPU_BACKEND` when it is set, since it narrows the search.
    fn no_adapter() -> LossError {
        LossError::NoAdapter(match std::env::var("WGPU_BACKEND") {
            Ok(b) => format!(" with WGPU_BACKEND={b:?} (unset it to search every backend)"),
            Err(_) => String::new(),
        })
    }

    /// One context per adapter found (honouring `WGPU_BACKEND`), to run the same loss on all.
    /// Fails if there is none: a GPU library that silently finds nothing helps no one.
    ///
    /// ```no_run
    /// for ctx in gpu_loss::GpuContext::all()? {
    ///     println!("{}", ctx.adapter_name());
    /// }
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn all() -> Result<Vec<GpuContext>> {
        let found = adapters();
        if found.is_empty() {
            return Err(GpuContext::no_adapter());
        }
        found.iter().map(GpuContext::from_adapter).collect()
    }

    /// A context on this adapter, with a device that has the adapter's own limits (not
    /// wgpu's defaults, so large buffers work) and the optional features it offers.
    ///
    /// ```no_run
    /// let adapter = &gpu_loss::adapters()[0];
    /// let ctx = gpu_loss::GpuContext::from_adapter(adapter)?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<GpuContext> {
        let info = adapter.get_info();
        let desc = wgpu::DeviceDescriptor {
            label: Some("gpu-loss"),
            required_features: adapter.features() & WANTED_FEATURES,
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|e| LossError::Device {
                adapter: describe(&info),
                reason: e.to_string(),
            })?;
        GpuContext::on_device(device, queue, true)
    }

    /// A context on a caller's device and queue (a renderer's or a trainer's): losses then
    /// run on the caller's buffers without copies. Features and limits are the device's own.
    ///
    /// ```no_run
    /// # let adapter = &gpu_loss::adapters()[0];
    /// let (device, queue) = pollster::block_on(adapter.request_device(&Default::default())).unwrap();
    /// let ctx = gpu_loss::GpuContext::from_device(device, queue)?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Result<GpuContext> {
        GpuContext::on_device(device, queue, false)
    }

    fn on_device(device: wgpu::Device, queue: wgpu::Queue, fresh: bool) -> Result<GpuContext> {
        let info = device.adapter_info();
        let features = device.features();
        let limits = device.limits();
        let needed = crate::kernel::ELEMENTWISE.bindings.len() as u32 - 1;
        if limits.max_storage_buffers_per_shader_stage < needed {
            return Err(LossError::Limit {
                what: "storage buffers per shader stage".into(),
                needed: needed.into(),
                limit: limits.max_storage_buffers_per_shader_stage.into(),
            });
        }
        let tuning = Tuning::for_device(&info, features, &limits);
        let mode = TuningMode::from_env().map_err(LossError::Usage)?;
        let dummy = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let inner = Inner {
            token: device_token(&device, fresh),
            lost: if fresh {
                watch(&device)
            } else {
                Default::default()
            },
            kernels: Kernels::new(&device),
            pool: Pool::new(device.clone(), limits.max_buffer_size),
            dummy_read: dummy("gpu-loss absent input"),
            dummy_out: dummy("gpu-loss absent out"),
            dummy_grad: dummy("gpu-loss absent grad"),
            uniforms: Mutex::new(HashMap::new()),
            gl: info.backend == wgpu::Backend::Gl,
            settings: Settings::new(tuning, mode, crate::tuning::default_cache()),
            device,
            queue,
            info,
            features,
            limits,
        };
        let inner = Arc::new(inner);
        let mut live = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
        live.push(Arc::downgrade(&inner));
        Ok(GpuContext { inner })
    }

    /// Held around every public operation on a GL device. wgpu's GL backend has one context
    /// lock per adapter and panics when a call waits more than a few seconds for it, which a
    /// long kernel on another thread (or another context on the same adapter) can take. One
    /// lock for all GL contexts of the process; reentrant, as public operations nest. Callers
    /// that submit to a GL device themselves from several threads hold it too; on other
    /// backends it is None and costs nothing.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let _serial = ctx.gl_lock();
    /// ctx.queue().submit([]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn gl_lock(&self) -> Option<ReentrantMutexGuard<'static, ()>> {
        self.inner.gl.then(gl_serial)
    }

    /// [`GpuContext::gl_lock`] if it is free now (Some), else None: for futures, which yield
    /// instead of waiting for it.
    pub(crate) fn try_gl_lock(&self) -> Option<Option<ReentrantMutexGuard<'static, ()>>> {
        match self.inner.gl {
            true => try_gl_serial().map(Some),
            false => Some(None),
        }
    }

    /// The device.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let enc = ctx.device().create_command_encoder(&Default::default());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The queue.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// ctx.queue().submit([]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The adapter's name, backend and driver.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// println!("{:?}", ctx.adapter_info().backend);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    /// "name (Backend)", for reports.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// println!("{}", ctx.adapter_name());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn adapter_name(&self) -> String {
        describe(&self.inner.info)
    }

    /// The device's limits (the adapter's own, for a device the library created).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// println!("{}", ctx.limits().max_buffer_size);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The device's features.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let subgroups = ctx.features().contains(wgpu::Features::SUBGROUP);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn features(&self) -> wgpu::Features {
        self.inner.features
    }

    /// The hand-picked launch settings (`Tuning::for_device`), or those set with `set_tuning`.
    /// What a tuned family runs with is `tuning_for`.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// println!("{:?}", ctx.tuning());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn tuning(&self) -> Tuning {
        self.inner.settings.base()
    }

    /// Fixes the launch settings (fitted to the device) for every kernel family: an explicit
    /// `Tuning` wins over autotuning and the cache. Pipelines for the new settings compile on
    /// first use; the old ones stay cached.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// ctx.set_tuning(gpu_loss::Tuning { workgroup_size: 128, ..ctx.tuning() });
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn set_tuning(&self, tuning: Tuning) {
        let fitted = tuning.fit(&self.inner.info, self.inner.features, &self.inner.limits);
        self.inner.settings.set_explicit(fitted);
    }

    /// Pipelines compiled so far on this device.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// ctx.loss("mse")?.input(&x).target(&y).value()?;
    /// assert!(ctx.pipelines_compiled() > 0);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn pipelines_compiled(&self) -> usize {
        self.inner.kernels.compiled()
    }

    /// Scratch buffers idle in the pool.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// ctx.loss("mse")?.input(&x).target(&y).value()?;
    /// println!("{}", ctx.idle_scratch_buffers());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn idle_scratch_buffers(&self) -> usize {
        self.inner.pool.idle()
    }

    /// Uniform buffers created so far (one per distinct set of call parameters).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// println!("{}", ctx.uniform_buffers());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn uniform_buffers(&self) -> usize {
        self.inner
            .uniforms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub(crate) fn encoder(&self) -> wgpu::CommandEncoder {
        self.inner
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("gpu-loss"),
            })
    }

    pub(crate) fn submit_and_wait(&self, enc: wgpu::CommandEncoder) -> Result<()> {
        let idx = self.inner.queue.submit([enc.finish()]);
        self.wait(idx)
    }

    pub(crate) fn wait(&self, idx: wgpu::SubmissionIndex) -> Result<()> {
        self.inner
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(idx),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| LossError::Gpu(e.to_string()))
    }

    pub(crate) fn check_buffer_size(&self, what: &str, bytes: u64) -> Result<()> {
        if bytes > self.inner.limits.max_buffer_size {
            return Err(LossError::Limit {
                what: format!("{what} of {bytes} bytes"),
                needed: bytes,
                limit: self.inner.limits.max_buffer_size,
            });
        }
        Ok(())
    }

    pub(crate) fn staging(&self, bytes: u64) -> Result<crate::pool::Pooled> {
        self.check_buffer_size("staging buffer", bytes)?;
        Ok(self.inner.pool.take(
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        ))
    }

    /// A pooled scratch buffer for a call with `partials` workgroup partials after the header
    /// (status words, norms); COPY_SRC to read the status, COPY_DST to clear it.
    pub(crate) fn scratch(&self, partials: u64) -> Result<crate::pool::Pooled> {
        let bytes = crate::status::SCRATCH_HEADER_BYTES + 8 * partials.max(2);
        self.check_buffer_size("scratch buffer", bytes)?;
        Ok(self.inner.pool.take(
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        ))
    }

    /// A pooled f32 tensor (contents undefined) that kernels write and callers may read back.
    pub(crate) fn scratch_tensor(&self, shape: Vec<usize>) -> Result<Tensor> {
        let len = element_count(&format!("output of shape {shape:?}"), &shape)?;
        let bytes = (len as u64)
            .checked_mul(4)
            .and_then(|b| b.checked_next_multiple_of(16))
            .map_or(u64::MAX, |b| b.max(16));
        self.check_buffer_size("output tensor", bytes)?;
        let pooled = self.inner.pool.take(
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        );
        Ok(Tensor::pooled(pooled, shape, len).on(self.inner.token))
    }

    /// An immutable uniform buffer holding `bytes`, shared by every call that needs the same
    /// bytes. Never rewritten, so a call recorded now and submitted later reads its own values.
    pub(crate) fn uniform(&self, bytes: &[u8]) -> wgpu::Buffer {
        let mut cache = self
            .inner
            .uniforms
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(b) = cache.get(bytes) {
            return b.clone();
        }
        if cache.len() >= UNIFORM_CACHE {
            cache.clear();
        }
        // Not create_buffer_init, which panics where the mapping fails (a lost device): an
        // unmapped buffer is left for the call's error scope to report, and not cached.
        let buffer = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gpu-loss params"),
            size: (bytes.len() as u64).next_multiple_of(4),
            usage: wgpu::BufferUsages::UNIFORM,
            mapped_at_creation: true,
        });
        let Ok(mut view) = buffer.slice(..).get_mapped_range_mut() else {
            return buffer;
        };
        view.slice(..bytes.len()).copy_from_slice(bytes);
        drop(view);
        buffer.unmap();
        cache.insert(bytes.to_vec(), buffer.clone());
        buffer
    }
}

/// Why the device was lost, once wgpu has said so (set by the device-lost callback).
pub(crate) type Lost = Arc<Mutex<Option<String>>>;

/// Watches `device` for loss. Only on devices the library created: a caller's device has
/// one callback slot, which is the caller's.
pub(crate) fn watch(device: &wgpu::Device) -> Lost {
    let lost: Lost = Arc::default();
    let flag = Arc::clone(&lost);
    device.set_device_lost_callback(move |reason, message| {
        let why = match message.as_str() {
            "" => format!("{reason:?}"),
            m => format!("{reason:?}: {m}"),
        };
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    });
    lost
}
