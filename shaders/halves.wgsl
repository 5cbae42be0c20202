// f16 and bf16 storage: two values to a u32 word, element 2k in the low half. Loads widen to
// f32 exactly; stores round to nearest even in integer arithmetic (WGSL leaves
// pack2x16float's rounding and overflow to the implementation). Generic over the variant's
// VT/UT/BT (one lane or four).

fn unpack_f16(w: u32) -> vec2<f32> {
    return unpack2x16float(w);
}

fn unpack_bf16(w: u32) -> vec2<f32> {
    return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

// f32 → bf16 bits: round the low 16 bits to even; a NaN stays NaN (quieted, sign kept).
fn bf16_bits(v: VT) -> UT {
    let u = bitcast<UT>(v);
    let nan = (u & UT(0x7fffffffu)) > UT(0x7f800000u);
    let rounded = (u + UT(0x7fffu) + ((u >> UT(16u)) & UT(1u))) >> UT(16u);
    return select(rounded, (u >> UT(16u)) | UT(0x40u), nan);
}

// f32 → f16 bits, rounded to nearest even: 65520 and above become infinity, values below
// 2^-14 f16 subnormals (or zero), a NaN a quiet NaN with the top of its payload.
fn f16_bits(v: VT) -> UT {
    let u = bitcast<UT>(v);
    let sign = (u >> UT(16u)) & UT(0x8000u);
    let a = u & UT(0x7fffffffu);
    // Normal: rebias the exponent by 127 - 15 and round the 13 dropped bits to even.
    let normal = (a - UT(0x38000000u) + UT(0xfffu) + ((a >> UT(13u)) & UT(1u))) >> UT(13u);
    // Subnormal: the significand (implicit bit set) shifted right by 126 - exponent.
    let e = min(a >> UT(23u), UT(126u));
    let shift = min(UT(126u) - e, UT(31u));
    let m = (a & UT(0x7fffffu)) | UT(0x800000u);
    let q = m >> shift;
    let rem = m & ((UT(1u) << shift) - UT(1u));
    let halfway = UT(1u) << (shift - UT(1u));
    let up = (rem > halfway) | ((rem == halfway) & ((q & UT(1u)) == UT(1u)));
    var h = select(normal, q + select(UT(0u), UT(1u), up), a < UT(0x38800000u));
    h = select(h, UT(0x7c00u), a >= UT(0x477ff000u));
    h = select(h, UT(0x7e00u) | ((a >> UT(13u)) & UT(0x3ffu)), a > UT(0x7f800000u));
    return sign | h;
}
