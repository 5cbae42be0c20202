//! Launch settings per adapter, chosen here and nowhere else, so that they can be tuned (or
//! autotuned) in one place. What is fast on lavapipe (a CPU running workgroups as SIMD loops)
//! is not what is fast on a discrete GPU with thousands of lanes in flight.

/// Which elements each invocation visits (shaders/walk.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Invocation k of the grid visits k, k + grid, ...: coalesced on GPUs.
    GridStride,
    /// Each group of `lanes` invocations walks one contiguous span: for CPU drivers that
    /// run a workgroup `lanes` invocations (one SIMD register) at a time.
    Blocked {
        /// Invocations per SIMD group.
        lanes: u32,
    },
}

/// How the kernels are launched on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
///
/// ```no_run
/// use gpu_loss::tuning::Layout;
/// let ctx = gpu_loss::GpuContext::new()?;
/// ctx.set_tuning(gpu_loss::Tuning { layout: Layout::GridStride, ..ctx.tuning() });
/// # Ok::<(), gpu_loss::LossError>(())
/// ```
pub struct Tuning {
    /// Invocations per workgroup: a power of two, a multiple of the largest subgroup size.
    pub workgroup_size: u32,
    /// Which elements an invocation visits.
    pub layout: Layout,
    /// Bound on workgroups per dispatch; each invocation then strides over the tensor.
    pub max_workgroups: u32,
    /// vec4 loads and stores when the tensors' offsets allow them.
    pub vector_loads: bool,
    /// Subgroup operations in the workgroup reduction, where the device has them.
    pub subgroups: bool,
    /// Row kernels keep a short row's logits in each lane's registers between their loss and
    /// gradient sweeps, instead of reading them again: a gain where each storage read is costly
    /// (CPU drivers, about 10% on cross_entropy's gradient at 4096 × 1024 on lavapipe); not yet
    /// measured on GPUs, where the second read mostly hits the cache.
    pub cache_rows: bool,
    /// Largest window of one tensor that a dispatch binds; bigger tensors take several
    /// dispatches. The device's `max_storage_buffer_binding_size` unless lowered (tests do,
    /// to cover the split on small inputs).
    pub max_binding_bytes: u64,
}

impl Tuning {
    /// The settings for a device, from what its adapter says it is.
    pub fn for_device(
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
        limits: &wgpu::Limits,
    ) -> Tuning {
        let cpu = info.device_type == wgpu::DeviceType::Cpu;
        let (max_workgroups, layout) = match info.device_type {
            // A discrete GPU wants many workgroups in flight to hide memory latency.
            wgpu::DeviceType::DiscreteGpu => (4096, Layout::GridStride),
            wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::VirtualGpu => {
                (1024, Layout::GridStride)
            }
            // A CPU driver runs workgroups on its threads: a few per core balance the load
            // without paying per-workgroup overhead, and each SIMD group streams in order.
            wgpu::DeviceType::Cpu => (
                64,
                Layout::Blocked {
                    lanes: simd_lanes(info, features),
                },
            ),
            wgpu::DeviceType::Other => (1024, Layout::GridStride),
        };
        Tuning {
            workgroup_size: 256,
            layout,
            max_workgroups,
            vector_loads: true,
            subgroups: true,
            cache_rows: cpu,
            max_binding_bytes: limits.max_storage_buffer_binding_size,
        }
        .fit(info, features, limits)
    }

    /// The same settings, brought within what the device supports.
    pub fn fit(
        mut self,
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
        limits: &wgpu::Limits,
    ) -> Tuning {
        let max_wg = limits
            .max_compute_invocations_per_workgroup
            .min(limits.max_compute_workgroup_size_x)
            .max(1);
        // Largest power of two within the device's limit.
        let cap = 1u32 << (31 - max_wg.leading_zeros());
        self.workgroup_size = self
            .workgroup_size
            .clamp(1, cap)
            .next_power_of_two()
            .min(cap);
        // The shared tree keeps two vec2<f32> per invocation in workgroup memory.
        while self.workgroup_size > 1
            && self.workgroup_size * 16 > limits.max_compute_workgroup_storage_size
        {
            self.workgroup_size /= 2;
        }
        self.max_workgroups = self
            .max_workgroups
            .clamp(1, limits.max_compute_workgroups_per_dimension.max(1));
        // Room for at least a few thousand elements past the offset alignment.
        let floor = 4096 + u64::from(limits.min_storage_buffer_offset_alignment);
        self.max_binding_bytes = self
            .max_binding_bytes
            .min(limits.max_storage_buffer_binding_size)
            .max(floor);
        if let Layout::Blocked { lanes } = &mut self.layout {
            *lanes = (*lanes).clamp(1, self.workgroup_size).next_power_of_two();
        }
        let sg_max = info.subgroup_max_size;
        self.subgroups = self.subgroups
            && features.contains(wgpu::Features::SUBGROUP)
            && sg_max.is_power_of_two()
            && info.subgroup_min_size >= 4
            && sg_max <= self.workgroup_size;
        self
    }
}

/// The SIMD width of a CPU driver, in f32 lanes: its subgroup size when it reports one
/// (lavapipe), else the vector width llvmpipe puts in its name ("llvmpipe (LLVM 15, 256 bits)").
fn simd_lanes(info: &wgpu::AdapterInfo, features: wgpu::Features) -> u32 {
    if features.contains(wgpu::Features::SUBGROUP)
        && info.subgroup_min_size == info.subgroup_max_size
    {
        return info.subgroup_max_size.max(1);
    }
    info.name
        .split(|c: char| !c.is_ascii_digit())
        .zip(info.name.split(|c: char| c.is_ascii_digit()).skip(1))
        .find_map(|(digits, _)| {
            digits
                .parse::<u32>()
                .ok()
                .filter(|b| [128, 256, 512].contains(b))
        })
        .map(|bits| bits / 32)
        .unwrap_or(8)
}
