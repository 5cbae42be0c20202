// f16 and bf16 storage: two values to a u32 word, element 2k in the low half. Loads widen to
// f32 exactly; stores round to nearest even in integer arithmetic (WGSL leaves
// pack2x16float's rounding and overflow to the implementation). On four values at once; a
// scalar store rounds vec4(v) and keeps .x.

// A zero the compiler cannot prove zero (halves_setup): f16 values are widened through it.
// Seen as fpext(half), a compare with a constant (x >= 0, x == -inf) is narrowed by LLVM to
// an f16 compare, which x86 without AVX-512 FP16 makes lane by lane: lavapipe's
// cross_entropy on f16 logits took 19 ms for bf16's 8. x - 0 is x, -0 included. Kernels
// that compare widened values call halves_setup first; elsewhere the zero folds away.
var<private> widen_zero: f32;

fn halves_setup(num_workgroups: u32) {
    widen_zero = select(0.0, 1.0, num_workgroups == 0u);
}

fn unpack_f16(w: u32) -> vec2<f32> {
    return unpack2x16float(w) - vec2<f32>(widen_zero);
}

fn unpack_bf16(w: u32) -> vec2<f32> {
    return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

alias U4 = vec4<u32>;

// f32 → bf16 bits: round the low 16 bits to even; a NaN stays NaN (quieted, sign kept).
fn bf16_bits(v: vec4<f32>) -> vec4<u32> {
    let u = bitcast<vec4<u32>>(v);
    let nan = (u & U4(0x7fffffffu)) > U4(0x7f800000u);
    let rounded = (u + U4(0x7fffu) + ((u >> U4(16u)) & U4(1u))) >> U4(16u);
    return select(rounded, (u >> U4(16u)) | U4(0x40u), nan);
}

// f32 → f16 bits, rounded to nearest even: 65520 and above become infinity, values below
// 2^-14 f16 subnormals (or zero), a NaN a quiet NaN with the top of its payload.
fn f16_bits(v: vec4<f32>) -> vec4<u32> {
    let u = bitcast<vec4<u32>>(v);
    let sign = (u >> U4(16u)) & U4(0x8000u);
    let a = u & U4(0x7fffffffu);
    // Normal: rebias the exponent by 127 - 15 and round the 13 dropped bits to even.
    let normal = (a - U4(0x38000000u) + U4(0xfffu) + ((a >> U4(13u)) & U4(1u))) >> U4(13u);
    // Subnormal: |v|·2^24 counts f16's subnormal steps, exactly (a power-of-two scale), and
    // WGSL's round() is round-half-to-even whatever an add's rounding mode (WGSL lets that
    // round toward zero); 1024, where it rounds up, encodes the smallest normal. The min keeps
    // the conversion in range in the lanes the select drops.
    let steps = round(min(bitcast<vec4<f32>>(a), vec4<f32>(0x1p-14f)) * 0x1p24f);
    let subnormal = bitcast<U4>(vec4<i32>(steps));
    var h = select(normal, subnormal, a < U4(0x38800000u));
    h = select(h, U4(0x7c00u), a >= U4(0x477ff000u));
    h = select(h, U4(0x7e00u) | ((a >> U4(13u)) & U4(0x3ffu)), a > U4(0x7f800000u));
    return sign | h;
}
