//! The kernels: one registry entry per kernel (registry.rs), its WGSL assembly (source.rs), the
//! launch helpers the recorders share (dispatch.rs), and a per-context cache so every pipeline
//! is compiled once and reused.

pub(crate) mod cast;
pub(crate) mod cross_entropy;
mod dispatch;
pub(crate) mod elementwise;
mod image_source;
pub(crate) mod matmul;
pub(crate) mod ms_ssim;
pub(crate) mod psnr;
mod registry;
pub(crate) mod row_stats;
pub(crate) mod row_tuples;
mod source;
pub(crate) mod ssim;
mod ssim_strips;
pub(crate) mod storage;
pub(crate) mod texture_elementwise;
pub(crate) mod total_variation;
pub(crate) mod wasserstein;
pub(crate) mod wasserstein_samples;

use crate::error::{LossError, Result};
use registry::{Bind, KernelDef};
use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

pub(crate) use registry::ELEMENTWISE;

/// What selects one compiled variant of a kernel (its `KernelDef`'s config type).
pub(crate) trait Variant: Clone + Eq + Hash + Send + 'static {}
impl<T: Clone + Eq + Hash + Send + 'static> Variant for T {}

/// One kernel's pipelines by variant, entry point, and whether wgpu's runtime checks are in.
type Pipelines<C> = HashMap<(C, &'static str, bool), wgpu::ComputePipeline>;

/// A kernel's pipelines with their variant type erased, so one table holds every kernel's.
trait Compiled: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    fn count(&self) -> usize;
}

impl<C: Variant> Compiled for Pipelines<C> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// A kernel variant's bind group layout and the pipeline layout around it.
type Layouts = (wgpu::BindGroupLayout, wgpu::PipelineLayout);

/// Bind group layouts and compiled pipelines of one device, each made on first use from the
/// kernel's registry entry.
pub(crate) struct Kernels {
    device: wgpu::Device,
    /// By kernel and texture slots (a variant reading a texture has its own layout).
    layouts: Mutex<HashMap<(&'static str, u32), Layouts>>,
    pipelines: Mutex<HashMap<&'static str, Box<dyn Compiled>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kernels {
    pub(crate) fn new(device: &wgpu::Device) -> Kernels {
        Kernels {
            device: device.clone(),
            layouts: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        }
    }

    fn layouts<C>(&self, kernel: &KernelDef<C>, textures: u32) -> Layouts {
        lock(&self.layouts)
            .entry((kernel.name, textures))
            .or_insert_with(|| layout(&self.device, kernel.name, &kernel.bindings_for(textures)))
            .clone()
    }

    /// The layout of `kernel`'s variants whose texture slots are `textures` (0: buffers only).
    pub(crate) fn bind_group_layout<C>(
        &self,
        kernel: &KernelDef<C>,
        textures: u32,
    ) -> wgpu::BindGroupLayout {
        self.layouts(kernel, textures).0
    }

    /// The pipeline of `kernel`'s `variant` at its `main` entry point, compiled on first use.
    pub(crate) fn pipeline<C: Variant>(
        &self,
        kernel: &KernelDef<C>,
        variant: &C,
    ) -> Result<wgpu::ComputePipeline> {
        self.entry_pipeline(kernel, variant, "main")
    }

    /// The pipeline of `kernel`'s `variant` at entry point `entry`, compiled on first use.
    pub(crate) fn entry_pipeline<C: Variant>(
        &self,
        kernel: &KernelDef<C>,
        variant: &C,
        entry: &'static str,
    ) -> Result<wgpu::ComputePipeline> {
        self.compile(kernel, variant, entry, true)
    }

    /// `pipeline`, with wgpu's runtime checks (injected bounds checks, forced loop bounds)
    /// left out when `checked` is false. Only for a kernel whose host has proven every index
    /// in range and every loop finite, on a driver that bounds buffer accesses itself (what
    /// `Tuning::fit` allows: Vulkan's robust buffer access).
    pub(crate) fn pipeline_checked<C: Variant>(
        &self,
        kernel: &KernelDef<C>,
        variant: &C,
        checked: bool,
    ) -> Result<wgpu::ComputePipeline> {
        self.compile(kernel, variant, "main", checked)
    }

    fn compile<C: Variant>(
        &self,
        kernel: &KernelDef<C>,
        variant: &C,
        entry: &'static str,
        checked: bool,
    ) -> Result<wgpu::ComputePipeline> {
        let mut all = lock(&self.pipelines);
        let compiled = all
            .entry(kernel.name)
            .or_insert_with(|| Box::new(Pipelines::<C>::new()))
            .as_any()
            .downcast_mut::<Pipelines<C>>()
            .expect("each kernel name has one variant type");
        let key = (variant.clone(), entry, checked);
        if let Some(p) = compiled.get(&key) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(kernel.name),
            source: wgpu::ShaderSource::Wgsl(kernel.source(variant).into()),
        };
        let module = if checked {
            self.device.create_shader_module(desc)
        } else {
            // SAFETY: see `pipeline_checked`: the kernel reads and writes only the windows the
            // host bound for it (its tests cover sizes ending mid-vector and windows that
            // split a tensor; indices from data, such as labels, are clamped into their row),
            // its loops run to counts from its uniform, and the driver still bounds every
            // buffer access.
            unsafe {
                self.device
                    .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        };
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name),
                layout: Some(&self.layouts(kernel, (kernel.textures)(variant)).1),
                module: &module,
                entry_point: Some(entry),
                // Every kernel writes its workgroup memory before reading it (each invocation its
                // own slots, then a barrier), so the zeroing wgpu would add is dead work; on GL
                // it is an array constructor as long as the array, which Mesa takes tens of
                // seconds to compile for ssim's tiles.
                compilation_options: wgpu::PipelineCompilationOptions {
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                },
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(LossError::Gpu(format!("compiling {}: {e}", kernel.name)));
        }
        compiled.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// Pipelines compiled so far (for tests of the compile-once promise).
    pub(crate) fn compiled(&self) -> usize {
        lock(&self.pipelines).values().map(|p| p.count()).sum()
    }
}

fn layout(
    device: &wgpu::Device,
    name: &str,
    bindings: &[Bind],
) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let entries: Vec<_> = bindings
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match b {
                Bind::Texture => wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                _ => wgpu::BindingType::Buffer {
                    ty: match b {
                        Bind::Uniform => wgpu::BufferBindingType::Uniform,
                        Bind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        _ => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
            },
            count: None,
        })
        .collect();
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(name),
        entries: &entries,
    });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 0,
    });
    (bgl, pl)
}
