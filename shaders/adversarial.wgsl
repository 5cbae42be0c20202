// The terms of section E's objectives (gan_discriminator, gan_generator and the objectives built
// on them): functions of one tensor of discriminator outputs, the target unused. Each returns
// Pair(term, d term / d x) for one VT; the objective weighs and sums them (src/objective.rs).
// On logits the log terms are bce_with_logits's; on probabilities, bce's with its -100 clamp.
// Their float64 twins are in src/cpu/elementwise.rs; binary.wgsl comes before this file.

// -log D: softplus(-x) on logits.
fn neg_log_d_logits(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return bce_with_logits(x, VT(1.0), VT(1.0), p);
}

// -log(1 - D): softplus(x) on logits.
fn neg_log_1m_d_logits(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return bce_with_logits(x, VT(0.0), VT(1.0), p);
}

fn neg_log_d_probs(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return bce(x, VT(1.0), a, p);
}

fn neg_log_1m_d_probs(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return bce(x, VT(0.0), a, p);
}

// (x - 1)²: least squares towards "real".
fn square_from_one(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - 1.0;
    return Pair(e * e, 2.0 * e);
}

// x²: least squares towards "fake".
fn square(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return Pair(x * x, 2.0 * x);
}

// x: the Wasserstein critic's score.
fn identity(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return Pair(x, VT(1.0));
}

// relu(1 - x), relu(1 + x): the hinge discriminator's two sides (slope 0 at the kink).
fn relu_one_minus(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return hinge(x, VT(1.0), a, p);
}

fn relu_one_plus(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    return hinge(x, VT(-1.0), a, p);
}
