// psnr (LOSSES.md section G): 10·log10(L² / mse) per image, in three entry points over a
// dispatch's images (each a binding window of whole images):
//
// - `sums`: CHUNKS workgroups per image (dispatch: chunks, images) fold Σ (x − y)² of their
//   share, compensated, into the partials `sums` region;
// - `per_image`: one workgroup per image folds its chunks, writes its PSNR (for `none`) and
//   leaves the PSNR in the `values` region (finish.wgsl takes their mean) and the gradient's
//   coefficient −(20 / ln 10)·scale / (n·mse·divisor) in the `coefs` region;
// - `gradient`: d/dx = coef·(x − y), written or added.
//
// The host prepends WG_SIZE, BLOCKED, LANES, WRITE_OUT, WRITE_GRAD, common.wgsl, reduce.wgsl,
// scratch.wgsl, walk.wgsl, one tree strategy and the loaders of x and y (a buffer's or a
// texture's).

struct Images {
    per_image: u32,  // elements of one image
    chunks: u32,     // workgroups per image in `sums`
    first_image: u32,
    x_at: u32,
    y_at: u32,
    out_at: u32,
    grad_at: u32,
    values_at: u32,  // partials: the PSNRs of the call's images, then their coefficients
    coefs_at: u32,
    accumulate: u32,
    peak: f32,       // data_range²
    grad_scale: f32, // the call's weight / the divisor of its reduction
    width: u32,      // of one plane: a texture's texel of element e
    height: u32,
}

@group(0) @binding(0) var<uniform> im_uniform: Images;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> im: Images;
// Bindings 1 and 2, x and y, are the host's: load_x and load_y read a buffer or a texture.
@group(0) @binding(3) var<storage, read_write> out_buf: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_buf: array<f32>;
@group(0) @binding(5) var<storage, read_write> scratch: Scratch;

// Element e of the image at `base`: a texture's texel is (column, row, plane) of its planes.
fn fetch_x(base: u32, e: u32) -> f32 {
    let plane_len = im.width * im.height;
    return load_x(im.x_at + base + e, e % im.width, e % plane_len / im.width, e / plane_len);
}

fn fetch_y(base: u32, e: u32) -> f32 {
    let plane_len = im.width * im.height;
    return load_y(im.y_at + base + e, e % im.width, e % plane_len / im.width, e / plane_len);
}

@compute @workgroup_size(WG_SIZE)
fn sums(ids: Ids) {
    im = im_uniform;
    acc_setup(ids.nwg.x);
    let image = ids.wid.y;
    let base = image * im.per_image;
    var acc = ACC_ZERO;
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, im.chunks * WG_SIZE, im.per_image);
    // No branch an element (CPU drivers pay for one whether it is taken or not): a NaN sets a
    // flag, and the rare path walks the share again to find where.
    var suspicious = false;
    for (var e = walk.first; e < walk.end; e += walk.step) {
        let x = fetch_x(base, e);
        let y = fetch_y(base, e);
        suspicious = suspicious | is_nan_f(x) | is_nan_f(y);
        let d = x - y;
        acc = acc_add(acc, d * d);
    }
    if suspicious {
        for (var e = walk.first; e < walk.end; e += walk.step) {
            let at = (im.first_image + image) * im.per_image + e;
            if is_nan_f(fetch_x(base, e)) {
                atomicMax(&scratch.status[STATUS_NAN_INPUT], ~at);
            }
            if is_nan_f(fetch_y(base, e)) {
                atomicMax(&scratch.status[STATUS_NAN_TARGET], ~at);
            }
        }
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        scratch.partials[(im.first_image + image) * im.chunks + ids.wid.x] = total;
    }
}

@compute @workgroup_size(WG_SIZE)
fn per_image(ids: Ids) {
    im = im_uniform;
    acc_setup(ids.nwg.x);
    let image = im.first_image + ids.wid.x;
    var acc = ACC_ZERO;
    for (var c = ids.lid; c < im.chunks; c += WG_SIZE) {
        acc = acc_combine(acc, scratch.partials[image * im.chunks + c]);
    }
    let total = workgroup_reduce(ids, acc);
    if ids.lid == 0u {
        let mse = acc_value(total) / f32(im.per_image);
        // mse = 0: +inf, and a zero gradient (LOSSES.md).
        var value = bitcast<f32>(0x7f800000u);
        var coef = 0.0;
        if im.per_image == 0u {
            value = nan_f();
        } else if mse > 0.0 {
            value = 10.0 * log10_f(im.peak / mse);
            coef = -20.0 / log(10.0) * im.grad_scale / (f32(im.per_image) * mse);
        }
        if WRITE_OUT {
            out_buf[im.out_at + ids.wid.x] = value;
        }
        scratch.partials[im.values_at + image] = Acc(value, 0.0);
        scratch.partials[im.coefs_at + image] = Acc(coef, 0.0);
    }
}

fn log10_f(v: f32) -> f32 {
    return log2(v) * 0.30102999566398120;
}

@compute @workgroup_size(WG_SIZE)
fn gradient(ids: Ids) {
    im = im_uniform;
    let image = ids.wid.y;
    let coef = scratch.partials[im.coefs_at + im.first_image + image].x;
    let base = image * im.per_image;
    let walk = walk_in(ids.wid.x * WG_SIZE + ids.lid, im.chunks * WG_SIZE, im.per_image);
    for (var e = walk.first; e < walk.end; e += walk.step) {
        var g = coef * (fetch_x(base, e) - fetch_y(base, e));
        if im.accumulate != 0u {
            g += grad_buf[im.grad_at + base + e];
        }
        grad_buf[im.grad_at + base + e] = g;
    }
}
