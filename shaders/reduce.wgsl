// The reduction's monoid, kept apart from the strategy (tree_shared.wgsl, tree_subgroup.wgsl).
//
// Accumulation precision: f32 with a compensation term. Acc = (hi, lo) holds the sum hi + lo,
// where lo collects the rounding error of every addition into hi (TwoSum), so 2^24
// terms sum to within a few ulp of the exact value rather than drifting by sqrt(n) ulp.
//   identity: ACC_ZERO   combine: acc_combine   finalize: acc_value

alias Acc = vec2<f32>;

const ACC_ZERO: Acc = Acc(0.0, 0.0);

// A zero the compiler cannot see. Compilers free to treat float addition as associative
// (Mesa's NIR is, and WGSL cannot mark an operation exact) fold (a + b) - a to b, and TwoSum's
// error term to 0; going through s + opaque_zero keeps the algebra as written. Every kernel
// calls acc_setup(num_workgroups.x) first: without it the zero is a known constant again and
// sums are merely uncompensated (tests/api.rs checks they are compensated on every adapter).
var<private> opaque_zero: f32;

fn acc_setup(num_workgroups: u32) {
    opaque_zero = select(0.0, 1.0, num_workgroups == 0u);
}

// (fl(a + b), the exact rounding error of that addition). Knuth's TwoSum: no branch, any order.
fn two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = a + b;
    let sv = s + opaque_zero;
    let bb = sv - a;
    let err = (a - (sv - bb)) + (b - bb);
    return vec2<f32>(s, err);
}

// Adds one term: TwoSum, which holds whatever the magnitudes. (Kahan's cheaper update needs
// |hi| >= |term|, which fails where signed terms cancel: a critic's mean score, say.)
fn acc_add(acc: Acc, v: f32) -> Acc {
    let t = two_sum(acc.x, v);
    return Acc(t.x, acc.y + t.y);
}

fn acc_combine(a: Acc, b: Acc) -> Acc {
    let t = two_sum(a.x, b.x);
    return Acc(t.x, t.y + (a.y + b.y));
}

// Once hi is infinite the error term is NaN (inf - inf); the sum is hi then.
fn acc_value(a: Acc) -> f32 {
    if is_inf_f(a.x) {
        return a.x;
    }
    return a.x + a.y;
}

// Exact products and quotients, for prefix sums whose terms must carry twice f32's precision.

// Veltkamp's split of a into two halves of 12 bits; their products with another split are
// exact. Through opaque_zero, like two_sum, so the compiler keeps the algebra.
fn split(a: f32) -> vec2<f32> {
    let c = 4097.0 * a + opaque_zero;
    let hi = c - (c - a);
    return vec2<f32>(hi, a - hi);
}

// Dekker's product: a·b = hi + lo exactly (no fma: WGSL's may be unfused).
fn two_product(a: f32, b: f32) -> vec2<f32> {
    let p = a * b;
    let x = split(a);
    let y = split(b);
    let err = ((x.x * y.x - p) + x.x * y.y + x.y * y.x) + x.y * y.y;
    return vec2<f32>(p, err);
}

// 1 / (T.x + T.y) to twice f32's precision, so each step w / T of a CDF is a product, not a
// quotient (wasserstein's scans): each f32 rounding of a step would repeat along the prefix
// sum, and the CDFs' difference near the end (where both near 1) is a small number.
fn reciprocal(total: Acc) -> Acc {
    let r = 1.0 / total.x;
    let e = two_product(r, total.x);
    return two_sum(r, (((1.0 - e.x) - e.y) - r * total.y) / total.x);
}

// w · (I.x + I.y) as hi + lo, to twice f32's precision.
fn scaled(w: f32, inv: Acc) -> Acc {
    let p = two_product(w, inv.x);
    return Acc(p.x, p.y + w * inv.y);
}

// (a.x + a.y) · (I.x + I.y) as hi + lo, to twice f32's precision.
fn acc_scaled(a: Acc, inv: Acc) -> Acc {
    let p = two_product(a.x, inv.x);
    return Acc(p.x, p.y + (a.x * inv.y + a.y * inv.x));
}
