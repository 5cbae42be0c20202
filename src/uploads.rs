//! Tensors from the host (uploads, writes, zeros) and from the caller's buffers (`wrap`),
//! marked with the context's device; readbacks are in `mapping.rs`.

use crate::context::GpuContext;
use crate::error::{LossError, Result};
use crate::tensor::{element_count, DType, Tensor};

impl GpuContext {
    /// Copies `data` into a new GPU tensor of the given shape.
    ///
    /// ```no_run
    /// let ctx = gpu_loss::GpuContext::new()?;
    /// let t = ctx.upload(&[1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload(&self, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        self.upload_bytes(bytemuck::cast_slice(data), data.len(), shape, DType::F32)
    }

    /// Class labels as int32.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let labels = ctx.upload_i32(&[0, 2, 1], &[3])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload_i32(&self, data: &[i32], shape: &[usize]) -> Result<Tensor> {
        self.upload_bytes(bytemuck::cast_slice(data), data.len(), shape, DType::I32)
    }

    /// Class labels as int64 (PyTorch's default).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let labels = ctx.upload_i64(&[0, 2, 1], &[3])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn upload_i64(&self, data: &[i64], shape: &[usize]) -> Result<Tensor> {
        self.upload_bytes(bytemuck::cast_slice(data), data.len(), shape, DType::I64)
    }

    pub(crate) fn upload_bytes(
        &self,
        data: &[u8],
        count: usize,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let _serial = self.gl_lock();
        let len = element_count(&format!("upload of shape {shape:?}"), shape)?;
        if len != count {
            return Err(LossError::Buffer {
                tensor: format!("upload of shape {shape:?}"),
                why: format!("{count} values given for {len} elements"),
            });
        }
        let bytes = (data.len() as u64).next_multiple_of(16).max(16);
        self.check_buffer_size("uploaded tensor", bytes)?;
        let buffer = self.scoped(|| {
            let buffer = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("gpu-loss tensor"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: true,
            });
            let mut view = buffer
                .slice(..)
                .get_mapped_range_mut()
                .map_err(|e| LossError::Gpu(format!("allocating {bytes} bytes: {e}")))?;
            view.slice(..data.len()).copy_from_slice(data);
            drop(view);
            buffer.unmap();
            Ok(buffer)
        })?;
        Ok(Tensor::from_parts(buffer, 0, shape.to_vec(), len, None)
            .with_dtype(dtype)
            .on(self.inner.token))
    }

    /// [`Tensor::wrap`] for a buffer of this context's device: the tensor remembers the
    /// device, so that another context refuses it instead of failing inside wgpu.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
    ///     label: None, size: 4096, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false,
    /// });
    /// let t = ctx.wrap(&buffer, 256, &[16, 8])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn wrap(&self, buffer: &wgpu::Buffer, offset: u64, shape: &[usize]) -> Result<Tensor> {
        self.wrap_typed(buffer, offset, shape, DType::F32)
    }

    /// [`Tensor::wrap_typed`] for a buffer of this context's device, as [`GpuContext::wrap`].
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// use gpu_loss::tensor::DType;
    /// let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
    ///     label: None, size: 64, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false,
    /// });
    /// let labels = ctx.wrap_typed(&buffer, 0, &[8], DType::I64)?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn wrap_typed(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        Ok(Tensor::wrap_typed(buffer, offset, shape, dtype)?.on(self.inner.token))
    }

    /// The error for a tensor whose buffer is known to belong to another device.
    pub(crate) fn own(&self, tensor: &Tensor, name: impl FnOnce() -> String) -> Result<()> {
        if tensor.is_foreign(self.inner.token) {
            return Err(LossError::ForeignTensor {
                tensor: name(),
                context: self.adapter_name(),
            });
        }
        Ok(())
    }

    /// Overwrites a tensor's values from the host (the tensor's buffer needs COPY_DST).
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// ctx.write(&x, &[1.0, 1.5, 2.0])?;
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn write(&self, tensor: &Tensor, data: &[f32]) -> Result<()> {
        let _serial = self.gl_lock();
        self.own(tensor, || format!("{:?}", tensor.shape()))?;
        tensor.buffer_only("a write")?;
        tensor
            .dtype()
            .expect_f32("write", &format!("{:?}", tensor.shape()))?;
        if data.len() != tensor.len() {
            return Err(LossError::Buffer {
                tensor: format!("{:?}", tensor.shape()),
                why: format!("{} values given for {} elements", data.len(), tensor.len()),
            });
        }
        if !tensor
            .buffer()
            .usage()
            .contains(wgpu::BufferUsages::COPY_DST)
        {
            return Err(LossError::Buffer {
                tensor: format!("{:?}", tensor.shape()),
                why: "the buffer lacks COPY_DST usage".into(),
            });
        }
        self.scoped(|| {
            if !data.is_empty() {
                let bytes = bytemuck::cast_slice(data);
                (self.inner.queue).write_buffer(tensor.buffer(), tensor.offset(), bytes);
            }
            Ok(())
        })
    }

    /// A new tensor of zeros, from the scratch pool.
    ///
    /// ```no_run
    /// # let ctx = gpu_loss::GpuContext::new()?;
    /// # let x = ctx.upload(&[0.5, 2.0, -1.0], &[3])?;
    /// # let y = ctx.upload(&[0.0, 1.0, 1.0], &[3])?;
    /// let z = ctx.zeros(&[4, 4])?;
    /// assert_eq!(ctx.download(&z)?, vec![0.0; 16]);
    /// # Ok::<(), gpu_loss::LossError>(())
    /// ```
    pub fn zeros(&self, shape: &[usize]) -> Result<Tensor> {
        let _serial = self.gl_lock();
        self.scoped(|| {
            let t = self.scratch_tensor(shape.to_vec())?;
            let len = t.len();
            let mut enc = self.encoder();
            if len > 0 {
                enc.clear_buffer(t.buffer(), 0, Some((4 * len as u64).next_multiple_of(4)));
            }
            self.submit_and_wait(enc)?;
            Ok(t)
        })
    }
}
