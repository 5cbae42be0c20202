// Scalar helpers every kernel shares. Non-finite tests look at the bits: WGSL lets a
// compiler assume `x != x` is false.

fn is_nan_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf_f(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u;
}

fn nan_f() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}
