// ms_ssim's steps between ssim.wgsl's scales (LOSSES.md section G), four entry points:
//
// - `down`: the 2×2 average pool to the next scale (stride 2, zero padding of H mod 2 and
//   W mod 2, the padding counted, as F.avg_pool2d);
// - `up`: its adjoint, each pixel taking a quarter of its pooled parent's gradient (written or
//   added);
// - `combine`: one workgroup per plane folds each scale's tile partials into its mean (cs at
//   the four finer scales, SSIM at the last), clamps them at 0, and leaves the plane's value
//   Π mean_s^w_s in the partials and each scale's gradient coefficient
//   d value / d mean_s / count_s (times the reduction's factor) in `coefs`;
// - `per_image`: `none`'s values, the mean over each image's channels.
//
// The host prepends WG_SIZE, SCALES, common.wgsl, reduce.wgsl, scratch.wgsl, one tree
// strategy and `down`'s loader.

struct Pyramid {
    planes: u32,
    channels: u32,
    height: u32,       // down, up: the finer scale's planes
    width: u32,
    out_height: u32,   // the coarser scale's
    out_width: u32,
    pad_h: u32,
    pad_w: u32,
    src_at: u32,
    dst_at: u32,
    accumulate: u32,
    values_at: u32,    // partials: one value per plane
    factor: f32,       // d loss / d plane value: the reduction's and the call's
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    partial_at: array<vec4<u32>, 2>, // per scale: its first tile partial
    tiles: array<vec4<u32>, 2>,      // per scale: tile partials per plane
    counts: array<vec4<f32>, 2>,     // per scale: map positions per plane
    weights: array<vec4<f32>, 2>,    // per scale: its exponent
}

@group(0) @binding(0) var<uniform> pyr_uniform: Pyramid;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> pyr: Pyramid;
// Binding 1, `down`'s source, is the host's: load_src reads a buffer or a texture.
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> coefs: array<f32>;
@group(0) @binding(4) var<storage, read_write> scratch: Scratch;
@group(0) @binding(5) var<storage, read> coarse: array<f32>; // `up`'s source

fn first_partial(s: u32) -> u32 {
    return pyr.partial_at[s / 4u][s % 4u];
}

fn tiles_of(s: u32) -> u32 {
    return pyr.tiles[s / 4u][s % 4u];
}

fn count_of(s: u32) -> f32 {
    return pyr.counts[s / 4u][s % 4u];
}

fn weight_of(s: u32) -> f32 {
    return pyr.weights[s / 4u][s % 4u];
}

// Elements of the dispatch's grid, one per invocation (2-D grid: x fastest).
fn element(ids: Ids) -> u32 {
    return (ids.wid.y * ids.nwg.x + ids.wid.x) * WG_SIZE + ids.lid;
}

@compute @workgroup_size(WG_SIZE)
fn down(ids: Ids) {
    pyr = pyr_uniform;
    let e = element(ids);
    let plane_len = pyr.out_height * pyr.out_width;
    if e >= pyr.planes * plane_len {
        return;
    }
    let plane = e / plane_len;
    let i = i32(e % plane_len / pyr.out_width) * 2 - i32(pyr.pad_h);
    let j = i32(e % pyr.out_width) * 2 - i32(pyr.pad_w);
    var sum = 0.0;
    for (var a = 0; a < 2; a++) {
        for (var b = 0; b < 2; b++) {
            let r = i + a;
            let c = j + b;
            if r >= 0 && c >= 0 && u32(r) < pyr.height && u32(c) < pyr.width {
                let e = (plane * pyr.height + u32(r)) * pyr.width + u32(c);
                sum += load_src(pyr.src_at + e, u32(c), u32(r), plane);
            }
        }
    }
    dst[pyr.dst_at + e] = 0.25 * sum;
}

@compute @workgroup_size(WG_SIZE)
fn up(ids: Ids) {
    pyr = pyr_uniform;
    let e = element(ids);
    let plane_len = pyr.height * pyr.width;
    if e >= pyr.planes * plane_len {
        return;
    }
    let plane = e / plane_len;
    let i = (e % plane_len / pyr.width + pyr.pad_h) / 2u;
    let j = (e % pyr.width + pyr.pad_w) / 2u;
    var g = 0.25 * coarse[pyr.src_at + (plane * pyr.out_height + i) * pyr.out_width + j];
    if pyr.accumulate != 0u {
        g += dst[pyr.dst_at + e];
    }
    dst[pyr.dst_at + e] = g;
}

var<workgroup> means: array<f32, SCALES>;

@compute @workgroup_size(WG_SIZE)
fn combine(ids: Ids) {
    pyr = pyr_uniform;
    acc_setup(ids.nwg.x);
    let plane = ids.wid.x;
    // Every invocation runs every scale's fold: workgroup_reduce's barriers stay uniform.
    for (var s = 0u; s < SCALES; s++) {
        let tiles = tiles_of(s);
        let first = first_partial(s) + plane * tiles;
        var acc = ACC_ZERO;
        for (var t = ids.lid; t < tiles; t += WG_SIZE) {
            acc = acc_combine(acc, scratch.partials[first + t]);
        }
        let total = workgroup_reduce(ids, acc);
        if ids.lid == 0u {
            means[s] = max(acc_value(total) / count_of(s), 0.0);
        }
    }
    if ids.lid == 0u {
        var value = 1.0;
        for (var s = 0u; s < SCALES; s++) {
            value *= pow_f(means[s], weight_of(s));
        }
        for (var s = 0u; s < SCALES; s++) {
            // relu'(0) = 0, as PyTorch's; a zero factor elsewhere zeroes the value too.
            var coef = 0.0;
            if means[s] > 0.0 {
                coef = pyr.factor * weight_of(s) * value / (means[s] * count_of(s));
            }
            coefs[s * pyr.planes + plane] = coef;
        }
        scratch.partials[pyr.values_at + plane] = Acc(value, 0.0);
    }
}

// m^w for m ≥ 0, w > 0: 0 at 0.
fn pow_f(m: f32, w: f32) -> f32 {
    return select(exp2(w * log2(m)), 0.0, m == 0.0);
}

@compute @workgroup_size(WG_SIZE)
fn per_image(ids: Ids) {
    pyr = pyr_uniform;
    let n = element(ids);
    if n * pyr.channels >= pyr.planes {
        return;
    }
    var sum = 0.0;
    for (var c = 0u; c < pyr.channels; c++) {
        sum += scratch.partials[pyr.values_at + n * pyr.channels + c].x;
    }
    dst[pyr.dst_at + n] = sum / f32(pyr.channels);
}
