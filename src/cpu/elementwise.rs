//! Float64 twins of shaders/regression.wgsl and shaders/binary.wgsl: one function per loss,
//! returning (loss, d loss / d x) for one element, e = x - y. `a` is the loss's extra tensor
//! (var, pos_weight) and `p` its parameters in catalogue order.
//!
//! These are written from LOSSES.md to be read, in the plainest stable form; where the
//! WGSL needs a trick to keep its digits in f32, this side states the definition instead.

use std::f64::consts::{LN_2, PI};

/// A loss's value and derivative at one element (x, y, a, parameters): one of the functions
/// here, or a custom loss's interpreter (catalogue/custom.rs).
pub type ElementFn = &'static (dyn Fn(f64, f64, f64, &[f64]) -> (f64, f64) + Send + Sync);

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// log(1 + eˣ), without overflow.
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// 1 / (1 + e⁻ᶻ), without overflow.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let t = z.exp();
        t / (1.0 + t)
    }
}

/// mse: (loss, d loss / d x) of one element.
pub fn mse(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    (e * e, 2.0 * e)
}

/// mae: (loss, d loss / d x) of one element.
pub fn mae(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    (e.abs(), sign(e))
}

/// smooth_l1 (`p[0]` = beta): (loss, d loss / d x) of one element.
pub fn smooth_l1(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (beta, e) = (p[0], x - y);
    if e.abs() < beta {
        (0.5 * e * e / beta, e / beta)
    } else {
        (e.abs() - 0.5 * beta, sign(e))
    }
}

/// huber (`p[0]` = delta): (loss, d loss / d x) of one element.
pub fn huber(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (delta, e) = (p[0], x - y);
    if e.abs() <= delta {
        (0.5 * e * e, e)
    } else {
        (delta * (e.abs() - 0.5 * delta), delta * sign(e))
    }
}

/// charbonnier (`p[0]` = eps): (loss, d loss / d x) of one element.
pub fn charbonnier(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let e = x - y;
    let r = (e * e + p[0] * p[0]).sqrt();
    (r, e / r)
}

/// msle: (loss, d loss / d x) of one element.
pub fn msle(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    const EPS: f64 = 1e-7;
    let d = (x.max(EPS) + 1.0).ln() - (y.max(EPS) + 1.0).ln();
    let dx = if x > EPS { 1.0 / (1.0 + x) } else { 0.0 };
    (d * d, 2.0 * d * dx)
}

/// log(cosh(e)) = log1p(2·sinh²(e/2)) near 0, |e| + softplus(-2|e|) - log 2 beyond.
pub fn log_cosh(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    let v = if e.abs() < 1.0 {
        (2.0 * (e / 2.0).sinh().powi(2)).ln_1p()
    } else {
        e.abs() + softplus(-2.0 * e.abs()) - LN_2
    };
    (v, e.tanh())
}

/// cauchy (`p[0]` = c): (loss, d loss / d x) of one element.
pub fn cauchy(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let c = p[0];
    let u = (x - y) / c;
    ((u * u).ln_1p(), 2.0 * u / (c * (1.0 + u * u)))
}

/// mape: (loss, d loss / d x) of one element.
pub fn mape(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    let d = y.abs().max(1e-7);
    (100.0 * e.abs() / d, 100.0 * sign(e) / d)
}

/// p = [eps, full]; a = var, clamped at eps (the clamp takes no gradient, as in PyTorch).
pub fn gaussian_nll(x: f64, y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    let v = a.max(p[0]);
    let e = x - y;
    let full = if p[1] != 0.0 {
        0.5 * (2.0 * PI).ln()
    } else {
        0.0
    };
    (0.5 * (v.ln() + e * e / v) + full, e / v)
}

/// p = [log_input, full, eps]; Stirling's approximation of log(y!) for y > 1 when full.
pub fn poisson_nll(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (log_input, full, eps) = (p[0] != 0.0, p[1] != 0.0, p[2]);
    let (mut v, g) = if log_input {
        (x.exp() - y * x, x.exp() - y)
    } else {
        (x - y * (x + eps).ln(), 1.0 - y / (x + eps))
    };
    if full && y > 1.0 {
        v += y * y.ln() - y + 0.5 * (2.0 * PI * y).ln();
    }
    (v, g)
}

/// On probabilities, logs clamped at -100; backward divides by max(x(1 - x), 1e-12).
pub fn bce(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let log_x = x.ln().max(-100.0);
    let log_1mx = (1.0 - x).ln().max(-100.0);
    let v = -(y * log_x + (1.0 - y) * log_1mx);
    (v, (x - y) / ((1.0 - x) * x).max(1e-12))
}

/// a = pos_weight. LOSSES.md's (1 - y)·x + l·softplus(-x), l = 1 + (a - 1)·y, regrouped
/// (softplus(x) = x + softplus(-x)) into two terms that do not cancel when x·(2y - 1) << 0.
pub fn bce_with_logits(x: f64, y: f64, a: f64, _p: &[f64]) -> (f64, f64) {
    let v = (1.0 - y) * softplus(x) + a * y * softplus(-x);
    let g = (1.0 - y) * sigmoid(x) - a * y * sigmoid(-x);
    (v, g)
}

/// Keras reads {0, 1} labels as {-1, 1}.
fn signed_label(y: f64) -> f64 {
    if y == 0.0 {
        -1.0
    } else {
        y
    }
}

/// hinge: (loss, d loss / d x) of one element.
pub fn hinge(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let t = signed_label(y);
    let m = 1.0 - t * x;
    (m.max(0.0), if m > 0.0 { -t } else { 0.0 })
}

/// squared_hinge: (loss, d loss / d x) of one element.
pub fn squared_hinge(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let t = signed_label(y);
    let m = (1.0 - t * x).max(0.0);
    (m * m, -2.0 * t * m)
}

/// torchvision sigmoid_focal_loss; p = [alpha, gamma], alpha < 0 drops the alpha term.
pub fn focal(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (alpha, gamma) = (p[0], p[1]);
    let prob = sigmoid(x);
    let (ce, d_ce) = bce_with_logits(x, y, 1.0, &[]);
    let p_t = prob * y + (1.0 - prob) * (1.0 - y);
    let q = 1.0 - p_t;
    let d_q = -prob * (1.0 - prob) * (2.0 * y - 1.0);
    let m = q.powf(gamma);
    let d_m = if q > 0.0 && gamma != 0.0 {
        gamma * q.powf(gamma - 1.0) * d_q
    } else {
        0.0
    };
    let (mut v, mut g) = (ce * m, d_ce * m + ce * d_m);
    if alpha >= 0.0 {
        let alpha_t = alpha * y + (1.0 - alpha) * (1.0 - y);
        v *= alpha_t;
        g *= alpha_t;
    }
    (v, g)
}

/// soft_margin: (loss, d loss / d x) of one element.
pub fn soft_margin(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let z = -y * x;
    (softplus(z), -y * sigmoid(z))
}

/// p = [log_input, log_target]: one term of kl_div (its float64 definition lives with the
/// other row losses, src/cpu/rows.rs; the kernel evaluates it elementwise).
pub fn kl_div(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    super::rows::kl_term(x, y, p[0] != 0.0, p[1] != 0.0)
}

// The terms of section E's objectives (shaders/adversarial.wgsl): functions of one tensor of
// discriminator outputs; the target is unused.

/// −log D on logits: softplus(−x).
pub fn neg_log_d_logits(x: f64, _y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    bce_with_logits(x, 1.0, 1.0, p)
}

/// −log(1 − D) on logits: softplus(x).
pub fn neg_log_1m_d_logits(x: f64, _y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    bce_with_logits(x, 0.0, 1.0, p)
}

/// −log D on probabilities, clamped at 100 as bce.
pub fn neg_log_d_probs(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    bce(x, 1.0, a, p)
}

/// −log(1 − D) on probabilities, clamped at 100 as bce.
pub fn neg_log_1m_d_probs(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    bce(x, 0.0, a, p)
}

/// (x − 1)², an objective's LSGAN term on real outputs.
pub fn square_from_one(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    ((x - 1.0).powi(2), 2.0 * (x - 1.0))
}

/// x², an objective's LSGAN term on fake outputs.
pub fn square(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    (x * x, 2.0 * x)
}

/// x itself (an objective's WGAN term; the sum of terms).
pub fn identity(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    (x, 1.0)
}

/// relu(1 − x), slope 0 at the kink.
pub fn relu_one_minus(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    hinge(x, 1.0, a, p)
}

/// relu(1 + x), slope 0 at the kink.
pub fn relu_one_plus(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    hinge(x, -1.0, a, p)
}
