//! f16 and bf16 tensors on the host side: uploads, downloads (f32's too: every float dtype
//! reads back through `download_bytes`) and outputs. On the GPU they are
//! stored two to a u32 word (little-endian: element 2k in the low half) and widened to f32 in
//! the kernel (src/kernel/storage.rs); every sum stays f32.

use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::mapping::{Drive, Mapping};
use crate::tensor::{element_count, DType, Tensor};
use half::{bf16, f16};

/// A 16-bit float type a tensor can hold.
///
/// ```
/// use gpu_loss::{half::{bf16, f16}, DType, Half};
/// assert_eq!((f16::DTYPE, bf16::DTYPE), (DType::F16, DType::BF16));
/// assert_eq!(Half::to_f32(bf16::from_f32(0.5)), 0.5); // widening is exact
/// ```
pub trait Half: bytemuck::Pod {
    /// The tensor dtype that holds it.
    const DTYPE: DType;
    /// Its value as f32 (exact).
    fn to_f32(self) -> f32;
}

impl Half for f16 {
    const DTYPE: DType = DType::F16;
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

impl Half for bf16 {
    const DTYPE: DType = DType::BF16;
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
}

/// Raw little-endian halves widened to f32 (exact).
pub(crate) fn widen<H: Half>(raw: &[u8]) -> Vec<f32> {
    bytemuck::pod_collect_to_vec::<u8, H>(raw)
        .into_iter()
        .map(H::to_f32)
        .collect()
}

impl GpuContext {
    /// Copies f16 values into a new GPU tensor (two to a u32 word).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// use gpu_loss::half::f16;
    /// let x = ctx.upload_f16(&[f16::from_f32(0.5), f16::from_f32(-2.0)], &[2])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload_f16(&self, data: &[f16], shape: &[usize]) -> Result<Tensor> {
        self.upload_bytes(bytemuck::cast_slice(data), data.len(), shape, DType::F16)
    }

    /// Copies bf16 values into a new GPU tensor (two to a u32 word).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// use gpu_loss::half::bf16;
    /// let logits = ctx.upload_bf16(&[bf16::from_f32(1.5); 6], &[2, 3])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload_bf16(&self, data: &[bf16], shape: &[usize]) -> Result<Tensor> {
        self.upload_bytes(bytemuck::cast_slice(data), data.len(), shape, DType::BF16)
    }

    /// f32 values rounded (to nearest even) to `dtype` on the host, then uploaded.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload_as(&[0.1, 0.2, 0.3], &[3], gpu_loss::DType::BF16)?; // rounded on the host
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload_as(&self, data: &[f32], shape: &[usize], dtype: DType) -> Result<Tensor> {
        match dtype {
            DType::F16 => {
                let h: Vec<f16> = data.iter().map(|&v| f16::from_f32(v)).collect();
                self.upload_f16(&h, shape)
            }
            DType::BF16 => {
                let h: Vec<bf16> = data.iter().map(|&v| bf16::from_f32(v)).collect();
                self.upload_bf16(&h, shape)
            }
            _ => self.upload(data, shape),
        }
    }

    /// Reads a float tensor back to the host as f32 (f16 and bf16 widened, exactly),
    /// blocking until the GPU is done.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload(&[0.5, 2.0], &[2])?;
    /// assert_eq!(ctx.download(&x)?, vec![0.5, 2.0]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn download(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        pollster::block_on(self.download_with(tensor, Drive::Block))
    }

    /// [`GpuContext::download`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// let values = pollster::block_on(ctx.download_async(&x))?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn download_async(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        self.download_with(tensor, Drive::Yield).await
    }

    pub(crate) async fn download_with(&self, tensor: &Tensor, drive: Drive) -> Result<Vec<f32>> {
        let floats = [DType::F32, DType::F16, DType::BF16];
        let raw = self.download_bytes_with(tensor, &floats, drive).await?;
        Ok(match tensor.dtype() {
            DType::F16 => widen::<f16>(&raw),
            DType::BF16 => widen::<bf16>(&raw),
            _ => bytemuck::pod_collect_to_vec(&raw),
        })
    }

    /// Reads an f16 tensor back to the host.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload_as(&[0.5], &[1], gpu_loss::DType::F16)?;
    /// assert_eq!(ctx.download_f16(&x)?[0].to_f32(), 0.5);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn download_f16(&self, tensor: &Tensor) -> Result<Vec<f16>> {
        let raw = self.download_bytes(tensor, &[DType::F16])?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    /// Reads a bf16 tensor back to the host.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload_as(&[0.5], &[1], gpu_loss::DType::BF16)?;
    /// assert_eq!(ctx.download_bf16(&x)?[0].to_f32(), 0.5);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn download_bf16(&self, tensor: &Tensor) -> Result<Vec<bf16>> {
        let raw = self.download_bytes(tensor, &[DType::BF16])?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    /// [`GpuContext::download_f16`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload_f16(&[gpu_loss::half::f16::ONE], &[1])?;
    /// let halves = pollster::block_on(ctx.download_f16_async(&x))?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn download_f16_async(&self, tensor: &Tensor) -> Result<Vec<f16>> {
        let raw = self
            .download_bytes_with(tensor, &[DType::F16], Drive::Yield)
            .await?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    /// [`GpuContext::download_bf16`] as a future that polls the device without blocking.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload_as(&[0.5], &[1], gpu_loss::DType::BF16)?;
    /// let halves = pollster::block_on(ctx.download_bf16_async(&x))?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub async fn download_bf16_async(&self, tensor: &Tensor) -> Result<Vec<bf16>> {
        let raw = self
            .download_bytes_with(tensor, &[DType::BF16], Drive::Yield)
            .await?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    /// `tensor`'s values as a new tensor of float `dtype`, converted on the GPU: widened
    /// exactly, or rounded to nearest even (f32 → f16 past 65504 gives infinity; a NaN stays
    /// NaN). The same dtype is a copy.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// let x = ctx.upload(&[0.1, 0.2, 0.3], &[3])?;
    /// let halves = ctx.cast(&x, gpu_loss::DType::BF16)?; // rounded to nearest even on the GPU
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn cast(&self, tensor: &Tensor, dtype: DType) -> Result<Tensor> {
        let _serial = self.gl_lock();
        let name = || format!("cast of {:?}", tensor.shape());
        self.own(tensor, name)?;
        tensor.buffer_only("a cast")?;
        tensor.dtype().expect_float("cast", "source")?;
        dtype.expect_float("cast", "destination")?;
        self.scoped(|| {
            let out = self.scratch_typed(tensor.shape().to_vec(), dtype)?;
            if !tensor.is_empty() {
                let mut enc = self.encoder();
                crate::kernel::cast::record(self, tensor, &out, &mut enc)?;
                self.submit_and_wait(enc)?;
            }
            Ok(out)
        })
    }

    /// A tensor's bytes, if it holds one of `dtypes` (blocking).
    pub(crate) fn download_bytes(&self, tensor: &Tensor, dtypes: &[DType]) -> Result<Vec<u8>> {
        pollster::block_on(self.download_bytes_with(tensor, dtypes, Drive::Block))
    }

    /// A tensor's bytes, if it holds one of `dtypes`, waiting for the GPU as `drive` says.
    async fn download_bytes_with(
        &self,
        tensor: &Tensor,
        dtypes: &[DType],
        drive: Drive,
    ) -> Result<Vec<u8>> {
        let (mapping, skip) = {
            let _serial = drive.gl_lock(self).await;
            match self.start_download(tensor, dtypes)? {
                Some(started) => started,
                None => return Ok(Vec::new()),
            }
        };
        let raw = mapping.read(self, drive).await?;
        Ok(raw[skip..skip + tensor.byte_len() as usize].to_vec())
    }

    /// Checks `tensor` and submits the copy of its words to a staging buffer being mapped,
    /// with where its bytes start there (None for an empty tensor).
    fn start_download(
        &self,
        tensor: &Tensor,
        dtypes: &[DType],
    ) -> Result<Option<(Mapping, usize)>> {
        self.own(tensor, || format!("{:?}", tensor.shape()))?;
        tensor.buffer_only("a download")?;
        if !dtypes.contains(&tensor.dtype()) {
            let names: Vec<&str> = dtypes.iter().map(|d| d.name()).collect();
            return Err(LossError::Buffer {
                tensor: format!("{:?}", tensor.shape()),
                why: format!(
                    "it holds {}, not {}",
                    tensor.dtype().name(),
                    names.join(" or ")
                ),
            });
        }
        if !tensor
            .buffer()
            .usage()
            .contains(wgpu::BufferUsages::COPY_SRC)
        {
            return Err(LossError::Buffer {
                tensor: format!("{:?}", tensor.shape()),
                why: "the buffer lacks COPY_SRC usage, so it cannot be read back".into(),
            });
        }
        if tensor.is_empty() {
            return Ok(None);
        }
        // Copies move whole 4-byte words: a half tensor's window widened to them.
        let start = tensor.offset() / 4 * 4;
        let skip = (tensor.offset() - start) as usize;
        let bytes = (tensor.offset() + tensor.byte_len()).next_multiple_of(4) - start;
        self.scoped(|| {
            let staging = self.staging(bytes)?;
            let mut enc = self.encoder();
            enc.copy_buffer_to_buffer(tensor.buffer(), start, staging.buffer(), 0, bytes);
            let idx = self.inner.queue.submit([enc.finish()]);
            Ok(Some((self.start_map(staging, bytes, idx), skip)))
        })
    }

    /// A pooled tensor of `dtype` (contents undefined) that kernels write.
    pub(crate) fn scratch_typed(&self, shape: Vec<usize>, dtype: DType) -> Result<Tensor> {
        if dtype == DType::F32 {
            return self.scratch_tensor(shape);
        }
        // Half as many f32 words hold the halves, rounded up.
        let len = element_count(&format!("output of shape {shape:?}"), &shape)?;
        let t = self.scratch_tensor(vec![len.div_ceil(2)])?;
        Ok(t.retyped(shape, len, dtype))
    }
}
