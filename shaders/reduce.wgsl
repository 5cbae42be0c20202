// The reduction's monoid, kept apart from the strategy (tree_shared.wgsl, tree_subgroup.wgsl).
//
// Accumulation precision: f32 with a compensation term. Acc = (hi, lo) holds the sum hi + lo,
// where lo collects the rounding error of every addition into hi (Kahan, TwoSum), so 2^24
// terms sum to within a few ulp of the exact value rather than drifting by sqrt(n) ulp.
//   identity: ACC_ZERO   combine: acc_combine   finalize: acc_value

alias Acc = vec2<f32>;

const ACC_ZERO: Acc = Acc(0.0, 0.0);

// (fl(a + b), the exact rounding error of that addition). Knuth's TwoSum: no branch, any order.
fn two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    return vec2<f32>(s, err);
}

// Adds one term: Kahan's update (Fast2Sum of hi and the corrected term), four flops. It
// relies on |hi| >= |term|, which holds for the long per-invocation sums it serves.
fn acc_add(acc: Acc, v: f32) -> Acc {
    let y = v + acc.y;
    let s = acc.x + y;
    return Acc(s, y - (s - acc.x));
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
