//! The kernels: a table of each one's bindings (vello style), the WGSL assembly, and a
//! per-context cache so every pipeline is compiled once and reused.

pub(crate) mod cross_entropy;
pub(crate) mod elementwise;
pub(crate) mod matmul;
pub(crate) mod row_stats;
pub(crate) mod row_tuples;
mod source;
pub(crate) mod total_variation;
pub(crate) mod wasserstein;
pub(crate) mod wasserstein_samples;

use crate::error::{LossError, Result};
use std::collections::HashMap;
use std::sync::Mutex;

pub(crate) use source::{
    CodeConfig, CrossEntropyConfig, ElementConfig, RowStatsConfig, RowTuplesConfig,
};

/// How a kernel sees one binding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind {
    Uniform,
    Read,
    ReadWrite,
}

/// A kernel: its template and its bindings, in binding order.
pub(crate) struct KernelDef {
    pub name: &'static str,
    pub template: &'static str,
    pub bindings: &'static [Bind],
}

use Bind::{Read, ReadWrite, Uniform};

/// shaders/elementwise.wgsl: segment, input, target, weight, aux, out, grad, scratch.
pub(crate) const ELEMENTWISE: KernelDef = KernelDef {
    name: "elementwise",
    template: include_str!("../../shaders/elementwise.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// shaders/finish.wgsl: finish params, scratch, result.
pub(crate) const FINISH: KernelDef = KernelDef {
    name: "finish",
    template: include_str!("../../shaders/finish.wgsl"),
    bindings: &[Uniform, ReadWrite, ReadWrite],
};

/// shaders/class_labels.wgsl (entry points `count` and `finish`): params, labels, class
/// weights, scratch.
pub(crate) const CLASS_LABELS: KernelDef = KernelDef {
    name: "class_labels",
    template: include_str!("../../shaders/class_labels.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite],
};

/// shaders/cross_entropy.wgsl: segment, logits, labels, probabilities, class weights,
/// per-row losses, gradient, scratch.
pub(crate) const CROSS_ENTROPY: KernelDef = KernelDef {
    name: "cross_entropy",
    template: include_str!("../../shaders/cross_entropy.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// shaders/row_stats.wgsl: segment, input, target, per-row losses, gradient, scratch.
pub(crate) const ROW_STATS: KernelDef = KernelDef {
    name: "row_stats",
    template: include_str!("../../shaders/row_stats.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite],
};

/// shaders/row_tuples.wgsl: segment, a, b, c (or per-row labels), per-row losses, the three
/// gradients, scratch.
pub(crate) const ROW_TUPLES: KernelDef = KernelDef {
    name: "row_tuples",
    template: include_str!("../../shaders/row_tuples.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// shaders/total_variation.wgsl: segment, image, per-element losses, gradient, scratch.
pub(crate) const TOTAL_VARIATION: KernelDef = KernelDef {
    name: "total_variation",
    template: include_str!("../../shaders/total_variation.wgsl"),
    bindings: &[Uniform, Read, ReadWrite, ReadWrite, ReadWrite],
};

/// shaders/matmul.wgsl: dims, A, B, out.
pub(crate) const MATMUL: KernelDef = KernelDef {
    name: "matmul",
    template: include_str!("../../shaders/matmul.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite],
};

/// shaders/wasserstein.wgsl: segment, u, v, per-row losses, the two gradients, scratch.
pub(crate) const WASSERSTEIN: KernelDef = KernelDef {
    name: "wasserstein",
    template: include_str!("../../shaders/wasserstein.wgsl"),
    bindings: &[
        Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// shaders/samples_prep.wgsl (entries `totals`, `keys_from_samples`): params, u_values,
/// v_values, u_weights, v_weights, keys, order, scratch.
pub(crate) const SAMPLES_PREP: KernelDef = KernelDef {
    name: "samples_prep",
    template: include_str!("../../shaders/samples_prep.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// shaders/bitonic.wgsl (entries `local_sort`, `global_step`, `local_merge`): step, keys, order.
pub(crate) const BITONIC: KernelDef = KernelDef {
    name: "bitonic",
    template: include_str!("../../shaders/bitonic.wgsl"),
    bindings: &[Uniform, ReadWrite, ReadWrite],
};

/// shaders/samples_scan.wgsl (entries `chunk_sums`, `chunk_offsets`, `apply`): params,
/// u_weights, v_weights, keys, order, chunk sums, the two gradients, scratch.
pub(crate) const SAMPLES_SCAN: KernelDef = KernelDef {
    name: "samples_scan",
    template: include_str!("../../shaders/samples_scan.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// What identifies one compiled pipeline. Loss parameters are not part of it: they travel in
/// the uniform.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelKey {
    Elementwise(ElementConfig),
    Finish(CodeConfig),
    ClassLabels {
        code: CodeConfig,
        label_words: u32,
        has_weight: bool,
        entry: &'static str,
    },
    CrossEntropy(CrossEntropyConfig),
    RowStats(RowStatsConfig),
    RowTuples(RowTuplesConfig),
    TotalVariation {
        code: CodeConfig,
        write_out: bool,
        write_grad: bool,
    },
    Matmul {
        trans_b: bool,
    },
    Wasserstein {
        code: CodeConfig,
        write_out: bool,
        write_grad: bool,
    },
    /// wasserstein_1d_samples' stages: one of SAMPLES_PREP, BITONIC, SAMPLES_SCAN and its entry.
    Samples {
        code: CodeConfig,
        kernel: &'static str,
        entry: &'static str,
    },
}

/// Bind group layouts (one per kernel) and the compiled pipelines of one device.
pub(crate) struct Kernels {
    device: wgpu::Device,
    layouts: HashMap<&'static str, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    pipelines: Mutex<HashMap<KernelKey, wgpu::ComputePipeline>>,
}

impl Kernels {
    pub(crate) fn new(device: &wgpu::Device) -> Kernels {
        let layouts = [
            &ELEMENTWISE,
            &FINISH,
            &CLASS_LABELS,
            &CROSS_ENTROPY,
            &ROW_STATS,
            &ROW_TUPLES,
            &TOTAL_VARIATION,
            &MATMUL,
            &WASSERSTEIN,
            &SAMPLES_PREP,
            &BITONIC,
            &SAMPLES_SCAN,
        ]
        .into_iter()
        .map(|k| (k.name, layout(device, k)))
        .collect();
        Kernels {
            device: device.clone(),
            layouts,
            pipelines: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn bind_group_layout(&self, kernel: &KernelDef) -> &wgpu::BindGroupLayout {
        &self.layouts[kernel.name].0
    }

    /// The pipeline for `key`, compiled on first use.
    pub(crate) fn pipeline(&self, key: &KernelKey) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(key) {
            return Ok(p.clone());
        }
        let (def, code, entry) = match key {
            KernelKey::Elementwise(c) => (&ELEMENTWISE, source::elementwise(c), "main"),
            KernelKey::Finish(code) => (&FINISH, source::finish(code), "main"),
            KernelKey::ClassLabels {
                code,
                label_words,
                has_weight,
                entry,
            } => (
                &CLASS_LABELS,
                source::class_labels(code, *label_words, *has_weight),
                *entry,
            ),
            KernelKey::CrossEntropy(c) => (&CROSS_ENTROPY, source::cross_entropy(c), "main"),
            KernelKey::RowStats(c) => (&ROW_STATS, source::row_stats(c), "main"),
            KernelKey::RowTuples(c) => (&ROW_TUPLES, source::row_tuples(c), "main"),
            KernelKey::Matmul { trans_b } => (&MATMUL, source::matmul(*trans_b), "main"),
            KernelKey::Wasserstein {
                code,
                write_out,
                write_grad,
            } => (
                &WASSERSTEIN,
                source::wasserstein(code, *write_out, *write_grad),
                "main",
            ),
            KernelKey::Samples {
                code,
                kernel,
                entry,
            } => {
                let def = [&SAMPLES_PREP, &BITONIC, &SAMPLES_SCAN]
                    .into_iter()
                    .find(|d| d.name == *kernel)
                    .expect("a samples kernel");
                (def, source::samples(code, def), *entry)
            }
            KernelKey::TotalVariation {
                code,
                write_out,
                write_grad,
            } => (
                &TOTAL_VARIATION,
                source::total_variation(code, *write_out, *write_grad),
                "main",
            ),
        };
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(def.name),
                source: wgpu::ShaderSource::Wgsl(code.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(def.name),
                layout: Some(&self.layouts[def.name].1),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(LossError::Gpu(format!("compiling {}: {e}", def.name)));
        }
        cache.insert(key.clone(), pipeline.clone());
        Ok(pipeline)
    }

    /// Pipelines compiled so far (for tests of the compile-once promise).
    pub(crate) fn compiled(&self) -> usize {
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

fn layout(
    device: &wgpu::Device,
    kernel: &KernelDef,
) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let entries: Vec<_> = kernel
        .bindings
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match b {
                    Bind::Uniform => wgpu::BufferBindingType::Uniform,
                    Bind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                    Bind::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(kernel.name),
        entries: &entries,
    });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(kernel.name),
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 0,
    });
    (bgl, pl)
}
