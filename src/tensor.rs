//! A tensor is a window of f32 values in a `wgpu::Buffer`: a buffer, a byte offset and a
//! shape. It may be one the context uploaded, one a kernel wrote, or a caller's own buffer
//! wrapped without a copy.

use crate::error::{LossError, Result};
use crate::pool::Pooled;
use std::sync::Arc;

/// The element type of a tensor. Losses read floats (f32, or f16/bf16 stored two to a u32
/// word, widened to f32 in the kernel); class labels are i32 or i64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
///
/// ```no_run
/// # let ctx = gpu_loss::GpuContext::new()?;
/// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
/// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
/// let labels = ctx.upload_i64(&[0, 1], &[2])?;
/// assert_eq!(labels.dtype(), gpu_loss::tensor::DType::I64);
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub enum DType {
    /// float32.
    F32,
    /// float16 (IEEE half), two to a u32 word.
    F16,
    /// bfloat16, two to a u32 word.
    BF16,
    /// int32 (class labels).
    I32,
    /// int64 (class labels, PyTorch's default).
    I64,
}

impl DType {
    /// The error for a tensor of `loss` that must hold float32 and holds this.
    ///
    /// ```
    /// use gpu_loss::DType;
    /// assert!(DType::F32.expect_f32("mse", "input").is_ok());
    /// assert!(DType::BF16.expect_f32("ssim", "input").is_err()); // a typed error naming both
    /// ```
    pub fn expect_f32(self, loss: &str, tensor: &str) -> Result<()> {
        if self == DType::F32 {
            return Ok(());
        }
        Err(LossError::Buffer {
            tensor: format!("{loss}: {tensor}"),
            why: format!("it holds {}, expected float32", self.name()),
        })
    }

    /// The error for a tensor of `loss` that must hold floats (f32, f16 or bf16).
    ///
    /// ```
    /// use gpu_loss::DType;
    /// assert!(DType::F16.expect_float("mse", "input").is_ok());
    /// assert!(DType::I64.expect_float("mse", "input").is_err());
    /// ```
    pub fn expect_float(self, loss: &str, tensor: &str) -> Result<()> {
        if self.is_float() {
            return Ok(());
        }
        Err(LossError::Buffer {
            tensor: format!("{loss}: {tensor}"),
            why: format!("it holds {}, expected floats", self.name()),
        })
    }

    /// f32, f16 or bf16.
    ///
    /// ```
    /// assert!(gpu_loss::DType::BF16.is_float() && !gpu_loss::DType::I32.is_float());
    /// ```
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    /// f16 or bf16: two values to a u32 word.
    ///
    /// ```
    /// assert!(gpu_loss::DType::F16.is_half() && !gpu_loss::DType::F32.is_half());
    /// ```
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    /// Bytes per element.
    ///
    /// ```
    /// assert_eq!(gpu_loss::tensor::DType::I64.size(), 8);
    /// ```
    pub fn size(self) -> u64 {
        match self {
            DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::I64 => 8,
        }
    }

    /// Its name, as errors say it.
    ///
    /// ```
    /// assert_eq!(gpu_loss::tensor::DType::F32.name(), "float32");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I32 => "int32",
            DType::I64 => "int64",
        }
    }
}

/// The element count of `shape`, or the error naming `tensor` when it overflows usize (a
/// wrapped product would let a shape claim far more elements than its data holds).
///
/// ```
/// use gpu_loss::tensor::element_count;
/// assert_eq!(element_count("x", &[2, 3]).unwrap(), 6);
/// assert!(element_count("x", &[usize::MAX, 2]).is_err());
/// ```
pub fn element_count(tensor: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| LossError::ShapeOverflow {
            tensor: tensor.to_string(),
            shape: shape.to_vec(),
        })
}

/// The texture behind a tensor: a view of its first mip level, and the channels that are
/// its planes, in order (0 = r, 1 = g, 2 = b, 3 = a).
///
/// ```no_run
/// # fn demo(ctx: &gpu_loss::GpuContext, frame: &wgpu::Texture) -> gpu_loss::Result<()> {
/// let x = ctx.wrap_texture(frame, &[0, 1, 2])?; // RGB, read in place
/// let source = x.texture().expect("a texture's planes");
/// assert_eq!((source.channels.as_slice(), source.width), (&[0, 1, 2][..], frame.width() as usize));
/// assert_eq!(x.shape(), [3, source.height, source.width]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TextureSource {
    pub(crate) view: wgpu::TextureView,
    /// The texture's format.
    pub format: wgpu::TextureFormat,
    /// The channels that are the tensor's planes (0 = r ... 3 = a).
    pub channels: Vec<u32>,
    /// The texture's width.
    pub width: usize,
    /// The texture's height.
    pub height: usize,
}

#[derive(Clone)]
/// A tensor on the GPU: a window of a buffer (or a texture's planes), its shape and dtype.
/// Cheap to clone (the buffer is shared); a pooled one goes back to its pool when the last
/// clone drops.
///
/// ```no_run
/// let ctx = gpu_loss::GpuContext::new()?;
/// let x = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!((x.shape(), x.len()), (&[2, 2][..], 4));
/// let row = x.reshape(&[4])?;
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Tensor {
    /// Some for a tensor in a buffer, taken only by `drop`; None for a texture's planes.
    buffer: Option<wgpu::Buffer>,
    /// A renderer's texture read in place as `[C, H, W]` (the image losses only).
    texture: Option<Arc<TextureSource>>,
    offset: u64,
    shape: Vec<usize>,
    len: usize,
    dtype: DType,
    /// The token of the buffer's device, where known (uploads, scratch, `GpuContext::wrap`).
    device: Option<u64>,
    /// Set when the buffer came from the context's pool: it goes back when the last view drops.
    _pooled: Option<Arc<Pooled>>,
}

impl Drop for Tensor {
    /// Destroying a buffer on GL takes wgpu's adapter-context lock, which panics after 6 s of
    /// waiting: the last handle drops under the process's GL lock (src/serial.rs) instead.
    fn drop(&mut self) {
        let buffer = self.buffer.take();
        let _serial = crate::serial::gl_serial();
        drop(buffer);
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Tensor");
        d.field("shape", &self.shape);
        match (&self.buffer, &self.texture) {
            (_, Some(t)) => d.field("texture", &t.format),
            (Some(b), None) => d
                .field("offset", &self.offset)
                .field("buffer_size", &b.size()),
            (None, None) => &mut d,
        };
        d.finish()
    }
}

impl Tensor {
    /// Wraps `shape.product()` f32 values of a caller's buffer starting at byte `offset`,
    /// without copying. The buffer needs STORAGE usage to be read or written by a kernel
    /// (COPY_SRC to be downloaded, COPY_DST to be written from the host). The tensor does not
    /// know its buffer's device (wgpu does not say), so using it with a context is the
    /// caller's promise that the device is that context's: if not, wgpu's validation finds it
    /// and the call fails with `LossError::Gpu`, not a panic, and the context goes on.
    /// [`GpuContext::wrap`](crate::GpuContext::wrap) makes a tensor that knows its device,
    /// which another context refuses up front (`ForeignTensor`): prefer it.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
    ///     label: None, size: 64, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false,
    /// });
    /// let t = gpu_loss::Tensor::wrap(&buffer, 0, &[16])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn wrap(buffer: &wgpu::Buffer, offset: u64, shape: &[usize]) -> Result<Tensor> {
        Tensor::wrap_typed(buffer, offset, shape, DType::F32)
    }

    /// Wraps values of another type (f16 or bf16 values; class labels: i32 or i64), as
    /// [`Tensor::wrap`]. Halves may start at any even byte offset.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
    ///     label: None,
    ///     size: 64,
    ///     usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    ///     mapped_at_creation: false,
    /// });
    /// let logits = gpu_loss::Tensor::wrap_typed(&buffer, 2, &[3, 5], gpu_loss::DType::BF16)?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn wrap_typed(
        buffer: &wgpu::Buffer,
        offset: u64,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let name = format!("wrapped buffer {:?}", buffer.size());
        let len = element_count(&name, shape)?;
        let fail = |why: String| LossError::Buffer {
            tensor: name.clone(),
            why,
        };
        let size = dtype.size();
        if !offset.is_multiple_of(size) {
            return Err(fail(format!(
                "offset {offset} is not a multiple of {size} bytes (one {})",
                dtype.name()
            )));
        }
        if !buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(fail("the buffer lacks STORAGE usage".into()));
        }
        // A kernel binds whole u32 words: a half tensor's last word must lie in the buffer.
        let end = (len as u64)
            .checked_mul(size)
            .and_then(|b| b.checked_add(offset))
            .map(|e| e.next_multiple_of(4));
        if end.is_none_or(|e| e > buffer.size()) {
            return Err(fail(format!(
                "{len} {} values at offset {offset} need {} bytes; the buffer has {}",
                dtype.name(),
                offset.saturating_add(size.saturating_mul(len as u64)),
                buffer.size()
            )));
        }
        Ok(Tensor::from_parts(buffer.clone(), offset, shape.to_vec(), len, None).with_dtype(dtype))
    }

    /// A tensor of `len` elements (the caller has checked `shape`'s count) at `offset`.
    pub(crate) fn from_parts(
        buffer: wgpu::Buffer,
        offset: u64,
        shape: Vec<usize>,
        len: usize,
        pooled: Option<Pooled>,
    ) -> Tensor {
        Tensor {
            buffer: Some(buffer),
            texture: None,
            offset,
            shape,
            len,
            dtype: DType::F32,
            device: None,
            _pooled: pooled.map(Arc::new),
        }
    }

    /// The same tensor, known to live on the device of this token (`GpuContext`'s).
    pub(crate) fn on(mut self, device: u64) -> Tensor {
        self.device = Some(device);
        self
    }

    /// Whether the buffer is known to belong to another device than the token's.
    pub(crate) fn is_foreign(&self, device: u64) -> bool {
        self.device.is_some_and(|d| d != device)
    }

    pub(crate) fn with_dtype(mut self, dtype: DType) -> Tensor {
        self.dtype = dtype;
        self
    }

    /// The same buffer window holding `len` values of `dtype` in `shape`.
    pub(crate) fn retyped(mut self, shape: Vec<usize>, len: usize, dtype: DType) -> Tensor {
        self.shape = shape;
        self.len = len;
        self.dtype = dtype;
        self
    }

    /// Its element type.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert_eq!(x.dtype(), gpu_loss::tensor::DType::F32);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub(crate) fn pooled(pooled: Pooled, shape: Vec<usize>, len: usize) -> Tensor {
        let buffer = pooled.buffer().clone();
        Tensor::from_parts(buffer, 0, shape, len, Some(pooled))
    }

    /// Its shape.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert_eq!(x.shape(), &[3]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert_eq!(x.len(), 3);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert!(!x.is_empty());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tensor's buffer. A texture's tensor has none: the calls that take textures read
    /// [`Tensor::texture`] instead, and the others refuse such a tensor before asking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let usage = x.buffer().usage();
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer
            .as_ref()
            .expect("a buffer tensor's buffer is taken only when it drops")
    }

    /// The error for a texture's tensor where only a buffer's will do (a download, an
    /// output): `what` names the use.
    pub(crate) fn buffer_only(&self, what: &str) -> Result<()> {
        match self.texture() {
            None => Ok(()),
            Some(tex) => Err(LossError::Texture {
                texture: format!("{:?} {}x{}", tex.format, tex.width, tex.height),
                why: format!("{what} needs a buffer's tensor; a texture's planes are read only"),
            }),
        }
    }

    /// The texture this tensor reads in place, if it is a texture's planes.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload(&[1.0, 2.0], &[2])?;
    /// assert!(x.texture().is_none()); // a buffer tensor
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn texture(&self) -> Option<&TextureSource> {
        self.texture.as_deref()
    }

    /// A texture's planes as a tensor of shape `[C, H, W]`, on the device of `device`.
    pub(crate) fn from_texture(source: TextureSource, device: u64) -> Tensor {
        let shape = vec![source.channels.len(), source.height, source.width];
        Tensor {
            buffer: None,
            texture: Some(Arc::new(source)),
            offset: 0,
            len: shape.iter().product(),
            shape,
            dtype: DType::F32,
            device: Some(device),
            _pooled: None,
        }
    }

    /// Byte offset of the first element in `buffer()`.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert_eq!(x.element(1)?.offset(), x.offset() + 4);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the tensor's values occupy.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// assert_eq!(x.byte_len(), 12);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn byte_len(&self) -> u64 {
        self.dtype.size() * self.len as u64
    }

    /// Element `i` as a tensor of shape `[1]`, sharing the buffer (and, for a pooled buffer, its
    /// lease: the buffer stays out of the pool while any view lives).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let second = x.element(1)?;
    /// assert_eq!(ctx.download(&second)?, vec![2.0]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn element(&self, i: usize) -> Result<Tensor> {
        if i >= self.len {
            return Err(LossError::Buffer {
                tensor: format!("{:?}", self.shape()),
                why: format!("no element {i} in {} elements", self.len),
            });
        }
        let mut t = self.clone();
        t.offset = self.offset + self.dtype.size() * i as u64;
        t.shape = vec![1];
        t.len = 1;
        Ok(t)
    }

    /// The same values viewed with another shape of the same element count.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let m = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[4])?.reshape(&[2, 2])?;
    /// assert!(x.reshape(&[2, 2]).is_err());
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let len = element_count("reshape", shape)?;
        if len != self.len() {
            return Err(LossError::Buffer {
                tensor: format!("{:?}", self.shape()),
                why: format!("cannot reshape {} elements to {shape:?}", self.len()),
            });
        }
        let mut t = self.clone();
        t.shape = shape.to_vec();
        Ok(t)
    }

    /// Whether two tensors share a buffer (wgpu tracks usage per buffer, not per range).
    pub(crate) fn shares_buffer(&self, other: &Tensor) -> bool {
        self.buffer.is_some() && self.buffer == other.buffer
    }

    /// Whether two tensors are the same bytes of the same buffer.
    pub(crate) fn same_window(&self, other: &Tensor) -> bool {
        self.shares_buffer(other)
            && self.offset() == other.offset()
            && self.byte_len() == other.byte_len()
    }

    /// Whether two tensors' byte ranges overlap.
    pub(crate) fn overlaps(&self, other: &Tensor) -> bool {
        self.shares_buffer(other)
            && self.offset() < other.offset() + other.byte_len()
            && other.offset() < self.offset() + self.byte_len()
    }
}
