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

// WGSL promises `log` only an absolute error of 2^-21 on [0.5, 2], so near log = 0 it has no
// relative precision at all (llvmpipe's log(1 + 6e-6) is 1% off). There these use the series
// log(1 + z) = 2·atanh(s), s = z / (2 + z), |s| < 1/3, to f32 precision.
fn log1p_series(z: VT) -> VT {
    let s = z / (2.0 + z);
    let s2 = s * s;
    let odd = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
        + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0)))))));
    return 2.0 * s * odd;
}

// log(1 + z), accurate for small z.
fn log1p_v(z: VT) -> VT {
    let near = (z > VT(-0.5)) & (z < VT(1.0));
    return select(log(1.0 + z), log1p_series(z), near);
}

// log(u), accurate also near u = 1 (u - 1 is exact there).
fn ln_v(u: VT) -> VT {
    let near = (u > VT(0.5)) & (u < VT(2.0));
    return select(log(u), log1p_series(u - 1.0), near);
}

// exp(z) - 1, accurate for small z: Taylor to z^10/10! below |z| = 0.35, where exp(z) - 1
// would cancel; plain exp(z) - 1 beyond (at most a bit lost).
fn expm1_v(z: VT) -> VT {
    var t = 1.0 + z / 10.0;
    t = 1.0 + z / 9.0 * t;
    t = 1.0 + z / 8.0 * t;
    t = 1.0 + z / 7.0 * t;
    t = 1.0 + z / 6.0 * t;
    t = 1.0 + z / 5.0 * t;
    t = 1.0 + z / 4.0 * t;
    t = 1.0 + z / 3.0 * t;
    t = 1.0 + z / 2.0 * t;
    return select(exp(z) - 1.0, z * t, abs(z) < VT(0.35));
}

// log(1 + exp(z)) without overflow; exp(-|z|) lies in (0, 1], where the series is exact.
fn softplus(z: VT) -> VT {
    return max(z, VT(0.0)) + log1p_series(exp(-abs(z)));
}

// 1 / (1 + exp(-z)), accurate in both tails (σ(-z) is not formed as 1 - σ(z)).
fn sigmoid(z: VT) -> VT {
    let t = exp(-abs(z));
    let s = VT(1.0) / (VT(1.0) + t);
    return select(t * s, s, z >= VT(0.0));
}

// softplus(±z) and σ(±z) from one exp, one series and one division: the logit losses need
// all four, and softplus(-z) = softplus(z) - z, σ(-z) = 1 - σ(z) would cancel in a tail.
struct Logistic {
    softplus_pos: VT,
    softplus_neg: VT,
    sigmoid_pos: VT,
    sigmoid_neg: VT,
}

fn logistic(z: VT) -> Logistic {
    let t = exp(-abs(z));
    let tail = log1p_series(t);
    let s = VT(1.0) / (VT(1.0) + t);
    let positive = z >= VT(0.0);
    return Logistic(
        max(z, VT(0.0)) + tail,
        max(-z, VT(0.0)) + tail,
        select(t * s, s, positive),
        select(s, t * s, positive),
    );
}

// tanh accurate near 0, where a builtin written as (e^2z - 1)/(e^2z + 1) cancels.
fn tanh_v(z: VT) -> VT {
    let a = min(abs(z), VT(10.0));
    let t = expm1_v(2.0 * a);
    return sign(z) * select(t / (t + VT(2.0)), VT(1.0), abs(z) >= VT(10.0));
}

// b^g for b >= 0, with 0^g = 0 for g > 0 and b^0 = 1 (pow(0, g) is undefined in WGSL).
// The integer part of g by multiplication, so that g = 2 is exact to an ulp: pow is
// exp2(g·log2 b), whose error grows with |g·log2 b|.
fn pow_nonneg(b: VT, g: f32) -> VT {
    var whole = u32(floor(g));
    let frac = g - floor(g);
    var r = VT(1.0);
    var sq = b;
    loop {
        if whole == 0u {
            break;
        }
        if (whole & 1u) != 0u {
            r *= sq;
        }
        sq *= sq;
        whole = whole >> 1u;
    }
    if frac != 0.0 {
        r *= select(pow(b, VT(frac)), VT(0.0), b <= VT(0.0));
    }
    return r;
}

// Keras's backend epsilon, the clip of its probability losses.
const KERAS_EPSILON: f32 = 1e-7;

// d clip(v, lo, hi) / dv as JAX's clip gives it (what Keras's autodiff sees): 1 inside, 0
// outside, 1/2 at a bound.
fn clip_slope(v: VT, lo: f32, hi: f32) -> VT {
    let at_lo = select(select(VT(0.0), VT(0.5), v == VT(lo)), VT(1.0), v > VT(lo));
    let m = max(v, VT(lo));
    let at_hi = select(select(VT(0.0), VT(0.5), m == VT(hi)), VT(1.0), m < VT(hi));
    return at_lo * at_hi;
}
