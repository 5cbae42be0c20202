// Section C's divergences whose terms are elementwise: kl_div. Each function returns
// Pair(term, d term / d input) for one VT of elements; `p` holds its parameters in catalogue
// order. The float64 twin is kl_term in src/cpu/rows.rs.

// p.x = log_input, p.y = log_target. On log-probabilities (PyTorch KLDivLoss): y·(log y - x),
// 0 wherever y <= 0 (LOSSES.md). On probabilities (Keras KLDivergence): both clipped to
// [1e-7, 1], y·log(y / x), only x's clip carrying the gradient.
fn kl_div(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let log_target = p.y != 0.0;
    var prob = y;
    if log_target {
        prob = exp(y);
    }
    if p.x != 0.0 {
        var term = prob * ln_v(prob) - prob * x;
        if log_target {
            term = prob * (y - x);
        }
        let kept = prob > VT(0.0);
        return Pair(select(VT(0.0), term, kept), select(VT(0.0), -prob, kept));
    }
    let yc = clamp(prob, VT(1e-7), VT(1.0));
    let q = clamp(x, VT(1e-7), VT(1.0));
    return Pair(yc * ln_v(yc / q), -yc / q * clip_slope(x, 1e-7, 1.0));
}
