// Math helpers shared by every kernel.
//
// WGSL has no log1p or expm1, and exp/log near 1 lose exactly the digits a loss near zero is
// made of, so these are written out. Non-finite tests look at the bits: WGSL lets a compiler
// assume `x != x` is false.

const LN2: f32 = 0.69314718055994531;
const HALF_LOG_2PI: f32 = 0.91893853320467274;

fn is_nan_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u;
}

fn nan_f() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// log(1 + z) to full precision (Goldberg: the rounding error of 1 + z cancels in the ratio).
fn log1p_f(z: f32) -> f32 {
    let u = 1.0 + z;
    let d = u - 1.0;
    if d == 0.0 {
        return z;
    }
    if is_inf_f(u) {
        return u;
    }
    return log(u) * (z / d);
}

// exp(z) - 1 to full precision (Kahan); plain exp(z) - 1 when |z| is large enough not to cancel.
fn expm1_f(z: f32) -> f32 {
    if abs(z) >= 0.5 {
        return exp(z) - 1.0;
    }
    let u = exp(z);
    if u == 1.0 {
        return z;
    }
    return (u - 1.0) * z / log(u);
}

// log(1 + exp(z)) without overflow.
fn softplus(z: f32) -> f32 {
    return max(z, 0.0) + log1p_f(exp(-abs(z)));
}

// 1 / (1 + exp(-z)), accurate in both tails (σ(-z) is not computed as 1 - σ(z)).
fn sigmoid(z: f32) -> f32 {
    let t = exp(-abs(z));
    let s = 1.0 / (1.0 + t);
    return select(t * s, s, z >= 0.0);
}

// tanh accurate near 0, where a builtin written as (e^2z - 1)/(e^2z + 1) cancels.
fn tanh_f(z: f32) -> f32 {
    let a = abs(z);
    if a > 10.0 {
        return sign(z);
    }
    let t = expm1_f(2.0 * a);
    return sign(z) * (t / (t + 2.0));
}

// b^g for b >= 0, with 0^g = 0 for g > 0 and b^0 = 1 (pow(0, g) is undefined in WGSL).
fn pow_nonneg(b: f32, g: f32) -> f32 {
    if g == 0.0 {
        return 1.0;
    }
    if b <= 0.0 {
        return 0.0;
    }
    return pow(b, g);
}
