// Scalar variant: one f32 per access. For tails and for tensors at offsets not 16-byte aligned.

alias VT = f32;
alias UT = u32;
alias BT = bool;
const VEC: u32 = 1u;

fn lane(v: VT, k: u32) -> f32 {
    return v;
}

fn lane_ids() -> UT {
    return 0u;
}

fn pack(v: array<f32, VEC>) -> VT {
    return v[0];
}

fn hsum(v: VT) -> f32 {
    return v;
}
