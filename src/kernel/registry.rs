//! Every kernel, once: its name, template, bindings (vello style) and the function that
//! assembles its WGSL for one variant. `Kernels` creates layouts and pipelines from these
//! entries alone, so a new kernel is one entry here and one builder in source.rs.

use super::image_source::{self, ImagePairConfig, MsSsimConfig, SsimConfig, TextureElementConfig};
use super::source::{
    self, CastConfig, ClassLabelsConfig, CodeConfig, CrossEntropyConfig, ElementConfig,
    MatmulConfig, RowStatsConfig, RowTuplesConfig, TotalVariationConfig, WassersteinConfig,
};

/// How a kernel sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bind {
    Uniform,
    Read,
    ReadWrite,
    /// A float texture read with textureLoad (an image source in place of a Read buffer).
    Texture,
}

/// A kernel: its template, its bindings in binding order, and its WGSL for a variant `C`
/// (everything that changes the code; loss parameters travel in the uniform).
pub(crate) struct KernelDef<C: 'static> {
    pub name: &'static str,
    pub template: &'static str,
    pub bindings: &'static [Bind],
    /// The WGSL of one variant: constants and shared pieces, then `template` (passed in).
    pub source: fn(&C, &str) -> String,
    /// The bindings (a bit each) that are textures in a variant, in place of `bindings`'.
    pub textures: fn(&C) -> u32,
}

impl<C> KernelDef<C> {
    pub(crate) fn source(&self, variant: &C) -> String {
        (self.source)(variant, self.template)
    }

    /// The bindings of a variant with `textures(variant)` as its texture slots.
    pub(crate) fn bindings_for(&self, textures: u32) -> Vec<Bind> {
        let slot = |i: usize, b: Bind| {
            if textures >> i & 1 == 1 {
                Bind::Texture
            } else {
                b
            }
        };
        self.bindings
            .iter()
            .enumerate()
            .map(|(i, &b)| slot(i, b))
            .collect()
    }
}

/// Kernels that read buffers only.
fn buffers_only<C>(_: &C) -> u32 {
    0
}

use Bind::{Read, ReadWrite, Uniform};

/// shaders/elementwise.wgsl: segment, input, target, weight, aux, out, grad, scratch.
pub(crate) static ELEMENTWISE: KernelDef<ElementConfig> = KernelDef {
    name: "elementwise",
    template: include_str!("../../shaders/elementwise.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: source::elementwise,
    textures: buffers_only,
};

/// shaders/cast.wgsl: segment, source, destination.
pub(crate) static CAST: KernelDef<CastConfig> = KernelDef {
    name: "cast",
    template: include_str!("../../shaders/cast.wgsl"),
    bindings: &[Uniform, Read, ReadWrite],
    source: source::cast,
    textures: buffers_only,
};

/// shaders/finish.wgsl: finish params, scratch, result.
pub(crate) static FINISH: KernelDef<CodeConfig> = KernelDef {
    name: "finish",
    template: include_str!("../../shaders/finish.wgsl"),
    bindings: &[Uniform, ReadWrite, ReadWrite],
    source: source::with_prelude,
    textures: buffers_only,
};

/// shaders/class_labels.wgsl (entry points `count` and `finish`): params, labels, class
/// weights, scratch.
pub(crate) static CLASS_LABELS: KernelDef<ClassLabelsConfig> = KernelDef {
    name: "class_labels",
    template: include_str!("../../shaders/class_labels.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite],
    source: source::class_labels,
    textures: buffers_only,
};

/// shaders/cross_entropy.wgsl: segment, logits, labels, probabilities, class weights,
/// per-row losses, gradient, scratch.
pub(crate) static CROSS_ENTROPY: KernelDef<CrossEntropyConfig> = KernelDef {
    name: "cross_entropy",
    template: include_str!("../../shaders/cross_entropy.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: source::cross_entropy,
    textures: buffers_only,
};

/// shaders/row_stats.wgsl: segment, input, target, per-row losses, gradient, scratch.
pub(crate) static ROW_STATS: KernelDef<RowStatsConfig> = KernelDef {
    name: "row_stats",
    template: include_str!("../../shaders/row_stats.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    source: source::row_stats,
    textures: buffers_only,
};

/// shaders/row_tuples.wgsl: segment, a, b, c (or per-row labels), per-row losses, the three
/// gradients, scratch.
pub(crate) static ROW_TUPLES: KernelDef<RowTuplesConfig> = KernelDef {
    name: "row_tuples",
    template: include_str!("../../shaders/row_tuples.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: source::row_tuples,
    textures: buffers_only,
};

/// shaders/total_variation.wgsl: segment, image, per-element losses, gradient, scratch.
pub(crate) static TOTAL_VARIATION: KernelDef<TotalVariationConfig> = KernelDef {
    name: "total_variation",
    template: include_str!("../../shaders/total_variation.wgsl"),
    bindings: &[Uniform, Read, ReadWrite, ReadWrite, ReadWrite],
    source: source::total_variation,
    textures: buffers_only,
};

/// shaders/ssim.wgsl (entries `moments`, `gradient`): image, x, y, per-plane scales, map,
/// the map's partials P0..P2, gradient, scratch.
pub(crate) static SSIM: KernelDef<SsimConfig> = KernelDef {
    name: "ssim",
    template: include_str!("../../shaders/ssim.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: image_source::ssim,
    textures: |c| image_source::texture_slots(c.x, c.y),
};

/// shaders/ms_ssim.wgsl (entries `down`, `up`, `combine`, `per_image`): pyramid, `down`'s
/// source, destination, per-plane coefficients, scratch, `up`'s source.
pub(crate) static MS_SSIM: KernelDef<MsSsimConfig> = KernelDef {
    name: "ms_ssim",
    template: include_str!("../../shaders/ms_ssim.wgsl"),
    bindings: &[Uniform, Read, ReadWrite, ReadWrite, ReadWrite, Read],
    source: image_source::ms_ssim,
    textures: |c| u32::from(c.src.is_texture()) << 1,
};

/// shaders/psnr.wgsl (entries `sums`, `per_image`, `gradient`): images, x, y, per-image
/// values, gradient, scratch.
pub(crate) static PSNR: KernelDef<ImagePairConfig> = KernelDef {
    name: "psnr",
    template: include_str!("../../shaders/psnr.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    source: image_source::psnr,
    textures: |c| image_source::texture_slots(c.x, c.y),
};

/// shaders/texture_elementwise.wgsl: pixels, x, y (a texture's planes, or a buffer beside
/// one), per-element losses, gradient, scratch.
pub(crate) static TEXTURE_ELEMENTWISE: KernelDef<TextureElementConfig> = KernelDef {
    name: "texture_elementwise",
    template: include_str!("../../shaders/texture_elementwise.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    source: image_source::texture_elementwise,
    textures: |c| image_source::texture_slots(c.x, c.y),
};

/// shaders/matmul.wgsl (entries `main`, `gather`): dims, A, B, out, split-K partials.
pub(crate) static MATMUL: KernelDef<MatmulConfig> = KernelDef {
    name: "matmul",
    template: include_str!("../../shaders/matmul.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite],
    source: source::matmul,
    textures: buffers_only,
};

/// shaders/wasserstein.wgsl: segment, u, v, per-row losses, the two gradients, scratch, and
/// u, v and the two gradients again (as vec4s).
pub(crate) static WASSERSTEIN: KernelDef<WassersteinConfig> = KernelDef {
    name: "wasserstein",
    template: include_str!("../../shaders/wasserstein.wgsl"),
    bindings: &[
        Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Read, Read, ReadWrite,
        ReadWrite,
    ],
    source: source::wasserstein,
    textures: buffers_only,
};

/// shaders/samples_prep.wgsl (entries `totals`, `keys_from_samples`): params, u_values,
/// v_values, u_weights, v_weights, keys, order, scratch, signed weights.
pub(crate) static SAMPLES_PREP: KernelDef<CodeConfig> = KernelDef {
    name: "samples_prep",
    template: include_str!("../../shaders/samples_prep.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: source::with_prelude,
    textures: buffers_only,
};

/// shaders/bitonic.wgsl (entries `local_sort`, `global_step`, `local_merge`): step, keys,
/// order. Keyed by the whole CodeConfig like its sibling stages, though it reads only WG_SIZE.
pub(crate) static BITONIC: KernelDef<CodeConfig> = KernelDef {
    name: "bitonic",
    template: include_str!("../../shaders/bitonic.wgsl"),
    bindings: &[Uniform, ReadWrite, ReadWrite],
    source: source::with_workgroup_size,
    textures: buffers_only,
};

/// shaders/radix.wgsl (entries `count`, `scan`, `scatter`): pass, keys in, positions in, keys
/// out, positions out, digit counts.
pub(crate) static RADIX_SORT: KernelDef<CodeConfig> = KernelDef {
    name: "radix_sort",
    template: include_str!("../../shaders/radix.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    source: source::with_workgroup_size,
    textures: buffers_only,
};

/// shaders/samples_scan.wgsl (entries `chunk_sums`, `chunk_offsets`, `apply`): params,
/// signed weights, keys, order, sorted weights, the two gradients, scratch.
pub(crate) static SAMPLES_SCAN: KernelDef<CodeConfig> = KernelDef {
    name: "samples_scan",
    template: include_str!("../../shaders/samples_scan.wgsl"),
    bindings: &[
        Uniform, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
    ],
    source: source::with_scan_per,
    textures: buffers_only,
};

#[cfg(test)]
mod tests {
    //! Every kernel's WGSL, assembled for a spread of variants, must pass naga's validation:
    //! a shader the host and a template disagree on (a constant missing or written twice)
    //! fails here without a GPU.
    use super::*;
    use crate::catalogue::{self, RowKernel};
    use crate::kernel::source::OutputsConfig;
    use crate::kernel::storage::Dtypes;
    use crate::tensor::DType;
    use crate::tuning::Layout;
    use image_source::Source;
    use source::{CrossEntropyMode, TupleDtypes};
    use wgpu::naga;

    fn validate<C>(kernel: &KernelDef<C>, variant: &C) {
        let code = kernel.source(variant);
        let module = naga::front::wgsl::parse_str(&code)
            .unwrap_or_else(|e| panic!("{}: {}", kernel.name, e.emit_to_string(&code)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", kernel.name, e.emit_to_string(&code)));
        uniforms_read_through_private_copies(kernel.name, &module);
    }

    /// common.wgsl's convention: every uniform is named `X_uniform`, and every entry point
    /// copies it into the private `X` at its top level (`X = X_uniform;`).
    fn uniforms_read_through_private_copies(kernel: &str, module: &naga::Module) {
        use naga::{AddressSpace, Expression, Statement};
        let name = |h: naga::Handle<naga::GlobalVariable>| {
            module.global_variables[h].name.clone().unwrap_or_default()
        };
        for (uniform, var) in module.global_variables.iter() {
            if var.space != AddressSpace::Uniform {
                continue;
            }
            let copy = name(uniform).strip_suffix("_uniform").map(str::to_string);
            let copy = copy.unwrap_or_else(|| {
                panic!(
                    "{kernel}: uniform `{}` is not named X_uniform",
                    name(uniform)
                )
            });
            for ep in &module.entry_points {
                let f = &ep.function;
                let copies = f.body.iter().any(|st| match st {
                    Statement::Store { pointer, value } => {
                        matches!(f.expressions[*pointer], Expression::GlobalVariable(g)
                            if name(g) == copy && module.global_variables[g].space == AddressSpace::Private)
                            && matches!(f.expressions[*value], Expression::Load { pointer: p }
                                if matches!(f.expressions[p], Expression::GlobalVariable(g) if g == uniform))
                    }
                    _ => false,
                });
                assert!(
                    copies,
                    "{kernel}: entry `{}` does not copy `{copy} = {}` at its top level",
                    ep.name,
                    name(uniform)
                );
            }
        }
    }

    fn codes() -> [CodeConfig; 2] {
        [
            CodeConfig {
                workgroup_size: 256,
                layout: Layout::GridStride,
                subgroups: true,
            },
            CodeConfig {
                workgroup_size: 64,
                layout: Layout::Blocked { lanes: 8 },
                subgroups: false,
            },
        ]
    }

    #[test]
    fn every_kernel_assembles_to_valid_wgsl() {
        for code in codes() {
            for loss in catalogue::ELEMENTWISE {
                for (vec4, flags) in [(true, true), (false, false)] {
                    let variant = ElementConfig {
                        loss,
                        code,
                        vec4,
                        pairs: false,
                        native_f16: false,
                        has_weight: flags,
                        has_aux: loss.aux.is_some(),
                        aux_broadcast: !flags,
                        write_out: flags,
                        write_grad: !flags,
                        add_grad: false,
                        switches: if flags { u8::MAX } else { 0 },
                        dtypes: Default::default(),
                    };
                    validate(&ELEMENTWISE, &variant);
                }
            }
            for (src, dst, vec4) in [
                (DType::BF16, DType::F16, true),
                (DType::F16, DType::BF16, false),
                (DType::F32, DType::BF16, true),
            ] {
                let variant = CastConfig {
                    code,
                    vec4,
                    src,
                    dst,
                };
                validate(&CAST, &variant);
            }
            // Half storage: every binding f16 or bf16, every variant (pairs: eight halves a
            // step, f32 weight and output beside them).
            for (half, vec4, pairs, native_f16) in [
                (DType::F16, true, false, false),
                (DType::BF16, false, false, false),
                (DType::BF16, true, true, false),
                (DType::F16, true, true, false),
                (DType::F16, true, true, true),
                (DType::F16, true, false, true),
                (DType::F16, false, false, true),
            ] {
                let loss = catalogue::elementwise("gaussian_nll").unwrap();
                let f32_if_pairs = if pairs { DType::F32 } else { half };
                let variant = ElementConfig {
                    loss,
                    code,
                    vec4,
                    pairs,
                    native_f16,
                    has_weight: true,
                    has_aux: true,
                    aux_broadcast: false,
                    write_out: true,
                    write_grad: true,
                    add_grad: false,
                    switches: 0,
                    dtypes: Dtypes {
                        x: half,
                        y: half,
                        w: f32_if_pairs,
                        aux: half,
                        out: f32_if_pairs,
                        grad: half,
                    },
                };
                validate(&ELEMENTWISE, &variant);
            }
            for kernel in [&FINISH, &SAMPLES_PREP, &BITONIC, &RADIX_SORT, &SAMPLES_SCAN] {
                validate(kernel, &code);
            }
            for (label_words, has_weight) in [(1, true), (2, false)] {
                let variant = ClassLabelsConfig {
                    code,
                    label_words,
                    has_weight,
                    weight: if has_weight { DType::BF16 } else { DType::F32 },
                };
                validate(&CLASS_LABELS, &variant);
            }
            for mode in [
                CrossEntropyMode::CrossEntropy,
                CrossEntropyMode::Nll,
                CrossEntropyMode::SparseKeras,
            ] {
                for flags in [true, false] {
                    let variant = CrossEntropyConfig {
                        code,
                        mode,
                        vec4: flags,
                        row_lanes: 4,
                        prob_target: flags,
                        label_words: 2,
                        has_weight: flags,
                        softcap: !flags,
                        write_out: flags,
                        write_grad: true,
                        in_place: !flags,
                        cache_row: flags,
                        pairs: false,
                        dtypes: Default::default(),
                    };
                    validate(&CROSS_ENTROPY, &variant);
                    // Halves everywhere (in place: the gradient's binding holds the logits).
                    let half = if flags { DType::BF16 } else { DType::F16 };
                    let dtypes = Dtypes {
                        x: half,
                        y: half,
                        w: half,
                        aux: half,
                        out: half,
                        grad: half,
                    };
                    validate(
                        &CROSS_ENTROPY,
                        &CrossEntropyConfig {
                            dtypes,
                            pairs: flags,
                            ..variant
                        },
                    );
                }
            }
            for loss in catalogue::ROWS {
                for vec4 in [true, false] {
                    match loss.kernel {
                        RowKernel::Stats => validate(
                            &ROW_STATS,
                            &RowStatsConfig {
                                loss: loss.name,
                                code,
                                vec4,
                                row_lanes: 8,
                                write_out: vec4,
                                write_grad: true,
                                dtypes: if vec4 {
                                    Dtypes::default()
                                } else {
                                    Dtypes {
                                        x: DType::BF16,
                                        y: DType::F16,
                                        w: DType::F32,
                                        aux: DType::F32,
                                        out: DType::BF16,
                                        grad: DType::F16,
                                    }
                                },
                            },
                        ),
                        RowKernel::Tuples => validate(
                            &ROW_TUPLES,
                            &RowTuplesConfig {
                                loss: loss.name,
                                code,
                                vec4,
                                row_lanes: 8,
                                write_out: vec4,
                                write_grad: true,
                                labels: vec4,
                                power: if vec4 { 0 } else { 2 },
                                // f32 in one variant, mixed halves in the other.
                                dtypes: if vec4 {
                                    TupleDtypes {
                                        rows: [DType::F32; 3],
                                        out: DType::F32,
                                        grads: [DType::F32; 3],
                                    }
                                } else {
                                    TupleDtypes {
                                        rows: [DType::BF16, DType::F16, DType::BF16],
                                        out: DType::F16,
                                        grads: [DType::BF16, DType::F16, DType::BF16],
                                    }
                                },
                            },
                        ),
                        _ => {}
                    }
                }
            }
            for write in [true, false] {
                let variant = OutputsConfig {
                    code,
                    write_out: write,
                    write_grad: !write,
                };
                for power in [0, 1, 2] {
                    validate(
                        &TOTAL_VARIATION,
                        &TotalVariationConfig {
                            outputs: variant.clone(),
                            power,
                        },
                    );
                }
                let kept_vec4s = if write { 0 } else { 256 };
                validate(
                    &WASSERSTEIN,
                    &WassersteinConfig {
                        outputs: variant.clone(),
                        kept_vec4s,
                    },
                );
                validate(&MATMUL, &MatmulConfig { trans_b: write });
                let texture = Source::Texture {
                    channels: [2, 0, 1, 0],
                    count: 3,
                };
                let (x, y) = if write {
                    (Source::Buffer, texture)
                } else {
                    (texture, Source::Buffer)
                };
                let pair = ImagePairConfig {
                    code,
                    x,
                    y,
                    write_out: write,
                    write_grad: !write,
                };
                validate(&PSNR, &pair);
                validate(&MS_SSIM, &MsSsimConfig { code, src: x });
                // Strips read buffers only (textures take the tiles).
                for (window, strips) in [(3, true), (11, false), (15, true), (15, false)] {
                    let (x, y) = if strips {
                        (Source::Buffer, Source::Buffer)
                    } else {
                        (x, y)
                    };
                    let variant = SsimConfig {
                        code,
                        x,
                        y,
                        write_out: write,
                        write_grad: !write,
                        window,
                        strips,
                    };
                    validate(&SSIM, &variant);
                }
                for loss in ["mse", "mae", "charbonnier", "huber"] {
                    let variant = TextureElementConfig {
                        loss: catalogue::elementwise(loss).unwrap(),
                        code,
                        x,
                        y,
                        write_out: write,
                        write_grad: !write,
                    };
                    validate(&TEXTURE_ELEMENTWISE, &variant);
                }
            }
        }
    }
}
