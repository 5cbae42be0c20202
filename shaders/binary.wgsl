// Section B of LOSSES.md: elementwise binary classification losses.
//
// Each function returns vec2(loss, d loss / d x) for one element; `a` is the loss's extra
// tensor (bce_with_logits's pos_weight, 1 when absent) and `p` its parameters in catalogue
// order. Their float64 twins are in src/cpu/elementwise.rs.

// On probabilities: logs clamped at -100, backward divided by max(x(1 - x), 1e-12) (PyTorch).
fn bce(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let log_x = select(-100.0, max(log(x), -100.0), x > 0.0);
    let log_1mx = select(-100.0, max(log(1.0 - x), -100.0), x < 1.0);
    let v = -(y * log_x + (1.0 - y) * log_1mx);
    return vec2(v, (x - y) / max((1.0 - x) * x, 1e-12));
}

// (1 - y)·x + l·softplus(-x) with l = 1 + (pw - 1)·y, written as the sum of two
// non-negative terms so that neither tail cancels: (1 - y)·softplus(x) + pw·y·softplus(-x).
fn bce_with_logits(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let v = (1.0 - y) * softplus(x) + a * y * softplus(-x);
    let g = (1.0 - y) * sigmoid(x) - a * y * sigmoid(-x);
    return vec2(v, g);
}

// Labels in {-1, 1}; a label 0 reads as -1, so {0, 1} labels work as Keras converts them.
fn hinge(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let t = select(y, -1.0, y == 0.0);
    let m = 1.0 - t * x;
    return vec2(max(m, 0.0), select(0.0, -t, m > 0.0));
}

fn squared_hinge(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let t = select(y, -1.0, y == 0.0);
    let m = max(1.0 - t * x, 0.0);
    return vec2(m * m, -2.0 * t * m);
}

// torchvision sigmoid_focal_loss on logits; p.x = alpha (< 0: no alpha term), p.y = gamma.
// q = 1 - p_t is formed from σ(x) and σ(-x) directly, so it keeps its digits near 0.
fn focal(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let alpha = p.x;
    let gamma = p.y;
    let s = sigmoid(x);
    let sn = sigmoid(-x);
    let ce = (1.0 - y) * softplus(x) + y * softplus(-x);
    let d_ce = (1.0 - y) * s - y * sn;
    let q = y * sn + (1.0 - y) * s;
    let m = pow_nonneg(q, gamma);
    var d_m = 0.0;
    if q > 0.0 && gamma != 0.0 {
        d_m = gamma * pow(q, gamma - 1.0) * s * sn * (1.0 - 2.0 * y);
    }
    var r = vec2(ce * m, d_ce * m + ce * d_m);
    if alpha >= 0.0 {
        r *= alpha * y + (1.0 - alpha) * (1.0 - y);
    }
    return r;
}

fn soft_margin(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let z = -y * x;
    return vec2(softplus(z), -y * sigmoid(z));
}
