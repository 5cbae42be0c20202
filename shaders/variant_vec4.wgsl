// Vector variant: each invocation loads and stores vec4<f32> (16-byte, coalesced accesses),
// and the loss functions run on four lanes at once. Picked by the host when every tensor's
// offset is 16-byte aligned; the last n % 4 elements then go to a scalar dispatch.

alias VT = vec4<f32>;
alias UT = vec4<u32>;
alias BT = vec4<bool>;
const VEC: u32 = 4u;

fn lane(v: VT, k: u32) -> f32 {
    return v[k];
}

// Each lane's number, for selecting one lane without indexing a vector by a variable.
fn lane_ids() -> UT {
    return UT(0u, 1u, 2u, 3u);
}

fn pack(v: array<f32, VEC>) -> VT {
    return VT(v[0], v[1], v[2], v[3]);
}

fn hsum(v: VT) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}
