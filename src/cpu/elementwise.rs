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
///
/// ```
/// use gpu_loss::cpu::elementwise::softplus;
/// assert_eq!(softplus(1000.0), 1000.0); // ln(1 + e¹⁰⁰⁰) would overflow
/// assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
/// ```
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// 1 / (1 + e⁻ᶻ), without overflow.
///
/// ```
/// use gpu_loss::cpu::elementwise::sigmoid;
/// assert_eq!(sigmoid(0.0), 0.5);
/// assert_eq!(sigmoid(-1000.0), 0.0); // e¹⁰⁰⁰ would overflow
/// ```
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let t = z.exp();
        t / (1.0 + t)
    }
}

/// mse: (loss, d loss / d x) of one element.
///
/// ```
/// // e = 2: (e², 2e)
/// assert_eq!(gpu_loss::cpu::elementwise::mse(3.0, 1.0, 0.0, &[]), (4.0, 4.0));
/// ```
pub fn mse(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    (e * e, 2.0 * e)
}

/// mae: (loss, d loss / d x) of one element.
///
/// ```
/// // e = −2: (|e|, sign e)
/// assert_eq!(gpu_loss::cpu::elementwise::mae(1.0, 3.0, 0.0, &[]), (2.0, -1.0));
/// ```
pub fn mae(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    (e.abs(), sign(e))
}

/// smooth_l1 (`p[0]` = beta): (loss, d loss / d x) of one element.
///
/// ```
/// use gpu_loss::cpu::elementwise::smooth_l1;
/// assert_eq!(smooth_l1(1.5, 1.0, 0.0, &[1.0]), (0.125, 0.5)); // |e| < β: e²/2β, e/β
/// assert_eq!(smooth_l1(3.0, 0.0, 0.0, &[1.0]), (2.5, 1.0)); // |e| − β/2, sign e
/// ```
pub fn smooth_l1(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (beta, e) = (p[0], x - y);
    if e.abs() < beta {
        (0.5 * e * e / beta, e / beta)
    } else {
        (e.abs() - 0.5 * beta, sign(e))
    }
}

/// huber (`p[0]` = delta): (loss, d loss / d x) of one element.
///
/// ```
/// use gpu_loss::cpu::elementwise::huber;
/// assert_eq!(huber(0.5, 0.0, 0.0, &[1.0]), (0.125, 0.5)); // |e| ≤ δ: e²/2, e
/// assert_eq!(huber(3.0, 0.0, 0.0, &[1.0]), (2.5, 1.0)); // δ(|e| − δ/2), δ·sign e
/// ```
pub fn huber(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let (delta, e) = (p[0], x - y);
    if e.abs() <= delta {
        (0.5 * e * e, e)
    } else {
        (delta * (e.abs() - 0.5 * delta), delta * sign(e))
    }
}

/// charbonnier (`p[0]` = eps): (loss, d loss / d x) of one element.
///
/// ```
/// // √(e² + ε²) = √(9 + 16) = 5; slope e / 5
/// assert_eq!(gpu_loss::cpu::elementwise::charbonnier(3.0, 0.0, 0.0, &[4.0]), (5.0, 0.6));
/// ```
pub fn charbonnier(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let e = x - y;
    let r = (e * e + p[0] * p[0]).sqrt();
    (r, e / r)
}

/// msle: (loss, d loss / d x) of one element.
///
/// ```
/// let (v, g) = gpu_loss::cpu::elementwise::msle(3.0, 1.0, 0.0, &[]);
/// let d = 2f64.ln(); // ln(1 + 3) − ln(1 + 1)
/// assert!((v - d * d).abs() < 1e-15 && (g - 2.0 * d / 4.0).abs() < 1e-15);
/// ```
pub fn msle(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    const EPS: f64 = 1e-7;
    let d = (x.max(EPS) + 1.0).ln() - (y.max(EPS) + 1.0).ln();
    let dx = if x > EPS { 1.0 / (1.0 + x) } else { 0.0 };
    (d * d, 2.0 * d * dx)
}

/// log(cosh(e)) = log1p(2·sinh²(e/2)) near 0, |e| + softplus(-2|e|) - log 2 beyond.
///
/// ```
/// let (v, g) = gpu_loss::cpu::elementwise::log_cosh(3.0, 1.0, 0.0, &[]);
/// assert!((v - 2f64.cosh().ln()).abs() < 1e-15 && g == 2f64.tanh()); // e = 2
/// ```
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
///
/// ```
/// // u = e / c = 1: (ln(1 + u²), 2u / (c(1 + u²)))
/// let (v, g) = gpu_loss::cpu::elementwise::cauchy(2.0, 0.0, 0.0, &[2.0]);
/// assert!((v - 2f64.ln()).abs() < 1e-15 && g == 0.5);
/// ```
pub fn cauchy(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    let c = p[0];
    let u = (x - y) / c;
    ((u * u).ln_1p(), 2.0 * u / (c * (1.0 + u * u)))
}

/// mape: (loss, d loss / d x) of one element.
///
/// ```
/// // 100·|e| / |y| = 100 · 1 / 2
/// assert_eq!(gpu_loss::cpu::elementwise::mape(3.0, 2.0, 0.0, &[]), (50.0, 50.0));
/// ```
pub fn mape(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let e = x - y;
    let d = y.abs().max(1e-7);
    (100.0 * e.abs() / d, 100.0 * sign(e) / d)
}

/// p = [eps, full]; a = var, clamped at eps (the clamp takes no gradient, as in PyTorch).
///
/// ```
/// // var 4, e = 2: ½(ln 4 + e²/4) and e / 4
/// let (v, g) = gpu_loss::cpu::elementwise::gaussian_nll(3.0, 1.0, 4.0, &[1e-6, 0.0]);
/// assert!((v - (2f64.ln() + 0.5)).abs() < 1e-15 && g == 0.5);
/// ```
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
///
/// ```
/// // log input: eˣ − y·x and eˣ − y, at x = 0, y = 2
/// assert_eq!(gpu_loss::cpu::elementwise::poisson_nll(0.0, 2.0, 0.0, &[1.0, 0.0, 1e-8]), (1.0, -1.0));
/// ```
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
///
/// ```
/// use gpu_loss::cpu::elementwise::bce;
/// let (v, g) = bce(0.5, 1.0, 0.0, &[]); // −ln 0.5, (x − y) / (x(1 − x))
/// assert!((v - 2f64.ln()).abs() < 1e-15 && g == -2.0);
/// assert_eq!(bce(0.0, 1.0, 0.0, &[]).0, 100.0); // −ln 0, clamped
/// ```
pub fn bce(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let log_x = x.ln().max(-100.0);
    let log_1mx = (1.0 - x).ln().max(-100.0);
    let v = -(y * log_x + (1.0 - y) * log_1mx);
    (v, (x - y) / ((1.0 - x) * x).max(1e-12))
}

/// a = pos_weight. LOSSES.md's (1 - y)·x + l·softplus(-x), l = 1 + (a - 1)·y, regrouped
/// (softplus(x) = x + softplus(-x)) into two terms that do not cancel when x·(2y - 1) << 0.
///
/// ```
/// // x = 0, y = 1, pos_weight 3: 3·softplus(0) = 3 ln 2, slope −3·σ(0)
/// let (v, g) = gpu_loss::cpu::elementwise::bce_with_logits(0.0, 1.0, 3.0, &[]);
/// assert!((v - 3.0 * 2f64.ln()).abs() < 1e-15 && g == -1.5);
/// ```
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
///
/// ```
/// use gpu_loss::cpu::elementwise::hinge;
/// assert_eq!(hinge(0.5, 0.0, 0.0, &[]), (1.5, 1.0)); // label 0 reads as −1: 1 + x
/// assert_eq!(hinge(2.0, 1.0, 0.0, &[]), (0.0, 0.0)); // past the margin
/// ```
pub fn hinge(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let t = signed_label(y);
    let m = 1.0 - t * x;
    (m.max(0.0), if m > 0.0 { -t } else { 0.0 })
}

/// squared_hinge: (loss, d loss / d x) of one element.
///
/// ```
/// // (1 − y·x)² = 0.5², slope −2·y·0.5
/// assert_eq!(gpu_loss::cpu::elementwise::squared_hinge(0.5, 1.0, 0.0, &[]), (0.25, -1.0));
/// ```
pub fn squared_hinge(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let t = signed_label(y);
    let m = (1.0 - t * x).max(0.0);
    (m * m, -2.0 * t * m)
}

/// torchvision sigmoid_focal_loss; p = [alpha, gamma], alpha < 0 drops the alpha term.
///
/// ```
/// use gpu_loss::cpu::elementwise::{bce_with_logits, focal};
/// // γ = 0 and no α (α < 0): plain binary cross-entropy on logits
/// assert_eq!(focal(0.7, 1.0, 0.0, &[-1.0, 0.0]), bce_with_logits(0.7, 1.0, 1.0, &[]));
/// // x = 0, y = 1: α·(1 − p)^γ·ln 2 = 0.25 · 0.5² · ln 2
/// assert!((focal(0.0, 1.0, 0.0, &[0.25, 2.0]).0 - 2f64.ln() / 16.0).abs() < 1e-15);
/// ```
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
///
/// ```
/// // softplus(−y·x) at x = 0: ln 2, slope −y·σ(0)
/// let (v, g) = gpu_loss::cpu::elementwise::soft_margin(0.0, 1.0, 0.0, &[]);
/// assert!((v - 2f64.ln()).abs() < 1e-15 && g == -0.5);
/// ```
pub fn soft_margin(x: f64, y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    let z = -y * x;
    (softplus(z), -y * sigmoid(z))
}

/// p = [log_input, log_target]: one term of kl_div (its float64 definition lives with the
/// other row losses, src/cpu/rows.rs; the kernel evaluates it elementwise).
///
/// ```
/// // log input x = ln q = −1, target y = 1: y·ln y − y·x = 1, slope −y
/// assert_eq!(gpu_loss::cpu::elementwise::kl_div(-1.0, 1.0, 0.0, &[1.0, 0.0]), (1.0, -1.0));
/// ```
pub fn kl_div(x: f64, y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    super::rows::kl_term(x, y, p[0] != 0.0, p[1] != 0.0)
}

// The terms of section E's objectives (shaders/adversarial.wgsl): functions of one tensor of
// discriminator outputs; the target is unused.

/// −log D on logits: softplus(−x).
///
/// ```
/// use gpu_loss::cpu::elementwise::{neg_log_d_logits, sigmoid, softplus};
/// assert_eq!(neg_log_d_logits(2.0, 0.0, 0.0, &[]), (softplus(-2.0), -sigmoid(-2.0)));
/// ```
pub fn neg_log_d_logits(x: f64, _y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    bce_with_logits(x, 1.0, 1.0, p)
}

/// −log(1 − D) on logits: softplus(x).
///
/// ```
/// use gpu_loss::cpu::elementwise::{neg_log_1m_d_logits, sigmoid, softplus};
/// assert_eq!(neg_log_1m_d_logits(2.0, 0.0, 0.0, &[]), (softplus(2.0), sigmoid(2.0)));
/// ```
pub fn neg_log_1m_d_logits(x: f64, _y: f64, _a: f64, p: &[f64]) -> (f64, f64) {
    bce_with_logits(x, 0.0, 1.0, p)
}

/// −log D on probabilities, clamped at 100 as bce.
///
/// ```
/// use gpu_loss::cpu::elementwise::neg_log_d_probs;
/// assert!((neg_log_d_probs(0.5, 0.0, 0.0, &[]).0 - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(neg_log_d_probs(0.0, 0.0, 0.0, &[]).0, 100.0); // −ln 0, clamped
/// ```
pub fn neg_log_d_probs(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    bce(x, 1.0, a, p)
}

/// −log(1 − D) on probabilities, clamped at 100 as bce.
///
/// ```
/// use gpu_loss::cpu::elementwise::neg_log_1m_d_probs;
/// assert!((neg_log_1m_d_probs(0.5, 0.0, 0.0, &[]).0 - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(neg_log_1m_d_probs(1.0, 0.0, 0.0, &[]).0, 100.0); // −ln 0, clamped
/// ```
pub fn neg_log_1m_d_probs(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    bce(x, 0.0, a, p)
}

/// (x − 1)², an objective's LSGAN term on real outputs.
///
/// ```
/// assert_eq!(gpu_loss::cpu::elementwise::square_from_one(3.0, 0.0, 0.0, &[]), (4.0, 4.0));
/// ```
pub fn square_from_one(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    ((x - 1.0).powi(2), 2.0 * (x - 1.0))
}

/// x², an objective's LSGAN term on fake outputs.
///
/// ```
/// assert_eq!(gpu_loss::cpu::elementwise::square(3.0, 0.0, 0.0, &[]), (9.0, 6.0));
/// ```
pub fn square(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    (x * x, 2.0 * x)
}

/// x itself (an objective's WGAN term; the sum of terms).
///
/// ```
/// assert_eq!(gpu_loss::cpu::elementwise::identity(3.0, 0.0, 0.0, &[]), (3.0, 1.0));
/// ```
pub fn identity(x: f64, _y: f64, _a: f64, _p: &[f64]) -> (f64, f64) {
    (x, 1.0)
}

/// relu(1 − x), slope 0 at the kink.
///
/// ```
/// use gpu_loss::cpu::elementwise::relu_one_minus;
/// assert_eq!(relu_one_minus(0.5, 0.0, 0.0, &[]), (0.5, -1.0));
/// assert_eq!(relu_one_minus(2.0, 0.0, 0.0, &[]), (0.0, 0.0));
/// ```
pub fn relu_one_minus(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    hinge(x, 1.0, a, p)
}

/// relu(1 + x), slope 0 at the kink.
///
/// ```
/// use gpu_loss::cpu::elementwise::relu_one_plus;
/// assert_eq!(relu_one_plus(0.5, 0.0, 0.0, &[]), (1.5, 1.0));
/// assert_eq!(relu_one_plus(-2.0, 0.0, 0.0, &[]), (0.0, 0.0));
/// ```
pub fn relu_one_plus(x: f64, _y: f64, a: f64, p: &[f64]) -> (f64, f64) {
    hinge(x, -1.0, a, p)
}
