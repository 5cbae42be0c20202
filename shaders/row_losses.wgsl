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
