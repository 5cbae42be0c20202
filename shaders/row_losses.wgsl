// The row losses of row_stats.wgsl: for each, its statistics' monoid ({loss}_zero,
// {loss}_combine, {loss}_add), the row's loss ({loss}_finish) and the gradient with respect
// to `input` ({loss}_grads), on one VT of a row at a time. `seg.params` holds the loss's
// parameters in catalogue order. The float64 twins are in src/cpu/rows.rs.

fn sums_zero() -> vec4<f32> {
    return vec4<f32>(0.0);
}

fn sums_combine(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return a + b;
}

// cosine_similarity (Keras cosine proximity): -(x·y) / (max(‖x‖, ε)·max(‖y‖, ε)).
// Statistics: (x·y, ‖x‖², ‖y‖²). p.x = eps.
fn cosine_similarity_add(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {
    return s + vec4(hsum(x * y), hsum(x * x), hsum(y * y), 0.0);
}

fn cosine_similarity_finish(s: vec4<f32>) -> RowOut {
    let eps = seg.params.x;
    let norm_x = sqrt(s.y);
    let denom = max(norm_x, eps) * max(sqrt(s.z), eps);
    // Below ε the norm is the constant ε and passes no gradient.
    let through_norm = select(0.0, s.x / denom / s.y, norm_x > eps);
    return RowOut(-s.x / denom, vec4(1.0 / denom, through_norm, 0.0, 0.0));
}

fn cosine_similarity_grads(x: VT, y: VT, s: vec4<f32>, coef: vec4<f32>) -> VT {
    return -y * coef.x + x * coef.y;
}

// dice: 1 - 2·Σ x·y / (Σ x + Σ y + 1e-7). Statistics: (Σ x·y, Σ x + Σ y).
fn dice_add(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {
    return s + vec4(hsum(x * y), hsum(x + y), 0.0, 0.0);
}

fn dice_finish(s: vec4<f32>) -> RowOut {
    let denom = s.y + 1e-7;
    return RowOut(1.0 - 2.0 * s.x / denom, vec4(2.0 / denom, 2.0 * s.x / (denom * denom), 0.0, 0.0));
}

fn dice_grads(x: VT, y: VT, s: vec4<f32>, coef: vec4<f32>) -> VT {
    return coef.y - y * coef.x;
}

// js_div: β·KL(P‖M) + (1 - β)·KL(Q‖M), M = β·P + (1 - β)·Q, with input = Q (log Q when
// log_input) and target = P; 0·log 0 = 0. Statistics: (Σ terms). p.x = beta, p.y = log_input.
fn x_log_ratio(a: VT, m: VT) -> VT {
    return select(a * ln_v(a / m), VT(0.0), a == VT(0.0));
}

fn js_q(x: VT) -> VT {
    if seg.params.y != 0.0 {
        return exp(x);
    }
    return x;
}

fn js_div_add(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {
    let beta = seg.params.x;
    let q = js_q(x);
    let m = beta * y + (1.0 - beta) * q;
    // A side with weight 0 adds nothing, even where its log ratio is infinite.
    var terms = VT(0.0);
    if beta != 0.0 {
        terms += beta * x_log_ratio(y, m);
    }
    if beta != 1.0 {
        terms += (1.0 - beta) * x_log_ratio(q, m);
    }
    return s + vec4(hsum(terms), 0.0, 0.0, 0.0);
}

fn js_div_finish(s: vec4<f32>) -> RowOut {
    return RowOut(s.x, vec4(0.0));
}

// d/dQ = (1 - β)·log(Q/M) (the terms through M cancel): 0 where Q = M = 0, and through log Q
// it is Q times that (0 at Q = 0).
fn js_div_grads(x: VT, y: VT, s: vec4<f32>, coef: vec4<f32>) -> VT {
    let beta = seg.params.x;
    let q = js_q(x);
    let m = beta * y + (1.0 - beta) * q;
    var d_q = (1.0 - beta) * ln_v(q / m);
    d_q = select(d_q, VT(0.0), (q == VT(0.0) & m == VT(0.0)) | VT(beta) == VT(1.0));
    if seg.params.y != 0.0 {
        return select(q * d_q, VT(0.0), q == VT(0.0));
    }
    return d_q;
}

// categorical_cross_entropy (Keras, on probabilities): -Σ y'·log clip(q), q = x / Σx, with
// y' = y·(1 - ls) + ls/C. The first sweep sums x; statistics: (Σ terms, Σ (d loss/d q)·q).
// p.x = label_smoothing.
fn categorical_cross_entropy_pre(s: vec4<f32>, x: VT, y: VT) -> vec4<f32> {
    return s + vec4(hsum(x), 0.0, 0.0, 0.0);
}

// Pair(y'·(-log clip(q)), d/dq). At the clip -log is float64's -log(1e-7) and -log(1 - 1e-7)
// (1 - 1e-7 is not an f32, and log there has no relative precision).
fn cce_terms(x: VT, y: VT, total: f32) -> Pair {
    let ls = seg.params.x;
    let smoothed = y * (1.0 - ls) + ls / f32(seg.classes);
    let q = x / total;
    let hi = 1.0 - KERAS_EPSILON;
    let clipped = clamp(q, VT(KERAS_EPSILON), VT(hi));
    var neg_log = -ln_v(clipped);
    neg_log = select(neg_log, VT(16.11809565095832), q <= VT(KERAS_EPSILON));
    neg_log = select(neg_log, VT(1.00000005e-7), q >= VT(hi));
    let d_q = -smoothed / clipped * clip_slope(q, KERAS_EPSILON, hi);
    // A target of 0 adds nothing, even where the clip's log is large.
    return Pair(select(smoothed * neg_log, VT(0.0), smoothed == VT(0.0)), d_q);
}

fn categorical_cross_entropy_add(s: vec4<f32>, x: VT, y: VT, pre: vec4<f32>) -> vec4<f32> {
    let t = cce_terms(x, y, pre.x);
    return s + vec4(hsum(t.value), hsum(t.grad * (x / pre.x)), 0.0, 0.0);
}

fn categorical_cross_entropy_finish(s: vec4<f32>, pre: vec4<f32>) -> RowOut {
    return RowOut(s.x, vec4(s.y, pre.x, 0.0, 0.0));
}

// Through the rescale: d q_k / d x_j = (δ_kj - q_k) / Σx.
fn categorical_cross_entropy_grads(x: VT, y: VT, s: vec4<f32>, coef: vec4<f32>) -> VT {
    return (cce_terms(x, y, coef.y).grad - coef.x) / coef.y;
}
