// The losses of row_tuples.wgsl: for each, {loss}_add (its per-row sums; they start at 0 and
// combine by +), {loss}_finish (the row's loss and its gradient's coefficients, from the sums
// and the row's label) and {loss}_grads (the gradient for each tensor, one VT at a time).
// `seg.params` holds the parameters in catalogue order. The float64 twins are in
// src/cpu/rows.rs.

fn sums_zero() -> vec4<f32> {
    return vec4<f32>(0.0);
}

fn sums_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return a + b;
}

// cosine_embedding (PyTorch): cos = x1·x2 / sqrt((‖x1‖² + ε)(‖x2‖² + ε)), ε = 1e-12 (ATen's);
// label 1: 1 - cos; label -1: max(0, cos - margin). Sums: (x1·x2, ‖x1‖², ‖x2‖²).
// p.x = margin.
const ATEN_COSINE_EPSILON: f32 = 1e-12;

fn cosine_embedding_add(s: vec4<f32>, a: VT, b: VT, c: VT) -> vec4<f32> {
    return s + vec4(hsum(a * b), hsum(a * a), hsum(b * b), 0.0);
}

fn cosine_embedding_finish(s: vec4<f32>, label: f32) -> RowOut {
    let margin = seg.params.x;
    let mag1 = s.y + ATEN_COSINE_EPSILON;
    let mag2 = s.z + ATEN_COSINE_EPSILON;
    // sqrt of each, not of the product, which overflows f32 sooner.
    let denom = sqrt(mag1) * sqrt(mag2);
    let cos = s.x / denom;
    let similar = label == 1.0;
    let loss = select(max(cos - margin, 0.0), 1.0 - cos, similar);
    // d loss / d cos; at the hinge the gradient passes (clamp_min's >=).
    let slope = select(select(0.0, 1.0, cos - margin >= 0.0), -1.0, similar);
    return RowOut(loss, vec4(slope, cos, denom, 0.0));
}

// d cos / d x1 = x2 / denom - cos·x1 / ‖x1‖², and symmetrically for x2.
fn cosine_embedding_grads(a: VT, b: VT, c: VT, s: vec4<f32>, coef: vec4<f32>) -> Grads {
    let slope = coef.x;
    let cos = coef.y;
    let denom = coef.z;
    return Grads(
        slope * (b / denom - cos * a / (s.y + ATEN_COSINE_EPSILON)),
        slope * (a / denom - cos * b / (s.z + ATEN_COSINE_EPSILON)),
        VT(0.0),
    );
}

// triplet_margin (PyTorch): max(d(a, p) - d(a, n) + margin, 0), d(u, w) = ‖u - w + ε‖_p;
// with swap, d(a, n) becomes min(d(a, n), d(p, n)). Sums: Σ|v|^p for (a, p), (a, n), (p, n).
// p.x = margin, p.y = p, p.z = eps, p.w = swap. p = 1 and 2 are built in by the host (POWER),
// so that no other path is run.
fn pow_abs(v: VT, p: f32) -> VT {
    if POWER == 2u {
        return v * v;
    }
    if POWER == 1u {
        return abs(v);
    }
    return pow(abs(v), VT(p));
}

fn p_root(s: f32, p: f32) -> f32 {
    if POWER == 2u {
        return sqrt(s);
    }
    if POWER == 1u {
        return s;
    }
    return select(pow(s, 1.0 / p), 0.0, s == 0.0);
}

// d ‖v‖_p / d v: sign(v)·(|v| / d)^(p - 1), 0 where v or d is 0 (ATen's norm backward).
fn p_norm_grad(v: VT, d: f32, p: f32) -> VT {
    var g: VT;
    if POWER == 2u {
        g = v / d;
    } else if POWER == 1u {
        g = sign(v);
    } else {
        g = sign(v) * pow(abs(v) / d, VT(p - 1.0));
    }
    return select(g, VT(0.0), v == VT(0.0) | VT(d) == VT(0.0));
}

fn triplet_margin_add(s: vec4<f32>, a: VT, b: VT, c: VT) -> vec4<f32> {
    let p = seg.params.y;
    let eps = seg.params.z;
    var pn = 0.0;
    if seg.params.w != 0.0 {
        pn = hsum(pow_abs(b - c + eps, p));
    }
    return s + vec4(hsum(pow_abs(a - b + eps, p)), hsum(pow_abs(a - c + eps, p)), pn, 0.0);
}

fn triplet_margin_finish(s: vec4<f32>, label: f32) -> RowOut {
    let p = seg.params.y;
    let d_ap = p_root(s.x, p);
    let d_an = p_root(s.y, p);
    var d_neg = d_an;
    var d_pn = 0.0;
    if seg.params.w != 0.0 {
        d_pn = p_root(s.z, p);
        d_neg = min(d_an, d_pn);
    }
    let v = seg.params.x + d_ap - d_neg;
    return RowOut(max(v, 0.0), vec4(d_ap, d_an, d_pn, select(0.0, 1.0, v >= 0.0)));
}

fn triplet_margin_grads(a: VT, b: VT, c: VT, s: vec4<f32>, coef: vec4<f32>) -> Grads {
    let p = seg.params.y;
    let eps = seg.params.z;
    // How the negative distance splits between d(a, n) and d(p, n): a tie splits it in half
    // (torch.min's backward).
    var w_an = 1.0;
    var g_pn = VT(0.0);
    if seg.params.w != 0.0 {
        w_an = select(select(0.5, 0.0, coef.z < coef.y), 1.0, coef.y < coef.z);
        g_pn = p_norm_grad(b - c + eps, coef.z, p);
    }
    let w_pn = select(0.0, 1.0 - w_an, seg.params.w != 0.0);
    let g_ap = p_norm_grad(a - b + eps, coef.x, p);
    let g_an = p_norm_grad(a - c + eps, coef.y, p);
    let hinge_on = coef.w;
    return Grads(
        hinge_on * (g_ap - w_an * g_an),
        hinge_on * (-g_ap - w_pn * g_pn),
        hinge_on * (w_an * g_an + w_pn * g_pn),
    );
}
