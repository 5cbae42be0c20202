// Scalar helpers every kernel shares. Non-finite tests look at the bits: WGSL lets a
// compiler assume `x != x` is false.
//
// Every kernel reads its uniform through a `var<private>` copy that each entry point makes
// first (`seg = seg_uniform;`): CPU drivers (lavapipe, llvmpipe) load a uniform read inside a
// loop again at every iteration, a quarter of a bare mse loop's time on lavapipe (13.2 against
// 10.1 ms at 2^24). On a GPU the copy is a few registers.

fn is_nan_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u;
}

fn nan_f() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}
