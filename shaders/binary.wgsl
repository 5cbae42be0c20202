// Section B of LOSSES.md: elementwise binary classification losses.
//
// Each function returns Pair(loss, d loss / d x) for one VT of elements (one f32 or four).
// `a` is the loss's extra tensor (bce_with_logits's pos_weight, 1 when absent) and `p` its
// parameters in catalogue order. Branches are selects, so SIMD lanes never diverge.
// Their float64 twins are in src/cpu/elementwise.rs.

// On probabilities: logs clamped at -100, backward divided by max(x(1 - x), 1e-12) (PyTorch).
fn bce(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let floor = VT(-100.0);
    let log_x = select(floor, max(ln_v(x), floor), x > VT(0.0));
    let log_1mx = select(floor, max(log1p_v(-x), floor), x < VT(1.0));
    return Pair(
        -(y * log_x + (1.0 - y) * log_1mx),
        (x - y) / max((1.0 - x) * x, VT(1e-12)),
    );
}

// (1 - y)·x + l·softplus(-x) with l = 1 + (pw - 1)·y, regrouped into two non-negative terms
// that do not cancel in either tail: (1 - y)·softplus(x) + pw·y·softplus(-x).
fn bce_with_logits(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let l = logistic(x);
    return Pair(
        (1.0 - y) * l.softplus_pos + a * y * l.softplus_neg,
        (1.0 - y) * l.sigmoid_pos - a * y * l.sigmoid_neg,
    );
}

// Labels in {-1, 1}; a label 0 reads as -1, so {0, 1} labels work as Keras converts them.
fn signed_label(y: VT) -> VT {
    return select(y, VT(-1.0), y == VT(0.0));
}

fn hinge(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let t = signed_label(y);
    let m = 1.0 - t * x;
    return Pair(max(m, VT(0.0)), select(VT(0.0), -t, m > VT(0.0)));
}

fn squared_hinge(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let t = signed_label(y);
    let m = max(1.0 - t * x, VT(0.0));
    return Pair(m * m, -2.0 * t * m);
}

// torchvision sigmoid_focal_loss on logits; p.x = alpha (< 0: no alpha term), p.y = gamma.
// q = 1 - p_t is formed from σ(x) and σ(-x) directly, so it keeps its digits near 0.
fn focal(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let alpha = p.x;
    let gamma = p.y;
    let l = logistic(x);
    let s = l.sigmoid_pos;
    let sn = l.sigmoid_neg;
    let ce = (1.0 - y) * l.softplus_pos + y * l.softplus_neg;
    let d_ce = (1.0 - y) * s - y * sn;
    let q = y * sn + (1.0 - y) * s;
    let m = pow_nonneg(q, gamma);
    var d_m = VT(0.0);
    if gamma != 0.0 {
        // γ·q^(γ-1)·dq/dx, with q^(γ-1) written q^γ / q where q > 0 (q = 0 has zero slope).
        d_m = select(VT(0.0), gamma * (m / q) * s * sn * (1.0 - 2.0 * y), q > VT(0.0));
    }
    var r = Pair(ce * m, d_ce * m + ce * d_m);
    if alpha >= 0.0 {
        let alpha_t = alpha * y + (1.0 - alpha) * (1.0 - y);
        r = Pair(r.value * alpha_t, r.grad * alpha_t);
    }
    return r;
}

fn soft_margin(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let l = logistic(-y * x);
    return Pair(l.softplus_pos, -y * l.sigmoid_pos);
}
