// Math on VT (f32 or vec4<f32>, from the vector variant), branch-free so that every lane of a
// SIMD group takes the same path. WGSL has no log1p or expm1, and exp/log near 1 lose exactly
// the digits a loss near zero is made of, so these are written out.

// What an elementwise loss function returns: its value and its derivative with respect to x.
struct Pair {
    value: VT,
    grad: VT,
}

const LN2: f32 = 0.69314718055994531;
const HALF_LOG_2PI: f32 = 0.91893853320467274;

fn is_nan_v(v: VT) -> BT {
    return (bitcast<UT>(v) & UT(0x7fffffffu)) > UT(0x7f800000u);
}

fn is_inf_v(v: VT) -> BT {
    return (bitcast<UT>(v) & UT(0x7fffffffu)) == UT(0x7f800000u);
}

// log(1 + z) to full precision (Goldberg: the rounding error of 1 + z cancels in the ratio).
fn log1p_v(z: VT) -> VT {
    let u = VT(1.0) + z;
    let d = u - VT(1.0);
    let r = select(log(u) * (z / d), z, d == VT(0.0));
    return select(r, u, is_inf_v(u));
}

// exp(z) - 1 to full precision (Kahan) near 0; plain exp(z) - 1 where that does not cancel.
fn expm1_v(z: VT) -> VT {
    let u = exp(z);
    let near = select((u - VT(1.0)) * z / log(u), z, u == VT(1.0));
    return select(near, u - VT(1.0), abs(z) >= VT(0.5));
}

// log(1 + exp(z)) without overflow.
fn softplus(z: VT) -> VT {
    return max(z, VT(0.0)) + log1p_v(exp(-abs(z)));
}

// 1 / (1 + exp(-z)), accurate in both tails (σ(-z) is not formed as 1 - σ(z)).
fn sigmoid(z: VT) -> VT {
    let t = exp(-abs(z));
    let s = VT(1.0) / (VT(1.0) + t);
    return select(t * s, s, z >= VT(0.0));
}

// tanh accurate near 0, where a builtin written as (e^2z - 1)/(e^2z + 1) cancels.
fn tanh_v(z: VT) -> VT {
    let a = min(abs(z), VT(10.0));
    let t = expm1_v(2.0 * a);
    return sign(z) * select(t / (t + VT(2.0)), VT(1.0), abs(z) >= VT(10.0));
}

// b^g for b >= 0, with 0^g = 0 for g > 0 and b^0 = 1 (pow(0, g) is undefined in WGSL).
fn pow_nonneg(b: VT, g: f32) -> VT {
    if g == 0.0 {
        return VT(1.0);
    }
    return select(pow(b, VT(g)), VT(0.0), b <= VT(0.0));
}
