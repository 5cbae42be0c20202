// Section A of LOSSES.md: elementwise regression losses.
//
// Each function returns Pair(loss, d loss / d x) for one VT of elements (one f32 or four),
// with e = x - y. `a` is the loss's extra tensor (gaussian_nll's var) and `p` its parameters
// in catalogue order. Branches are selects, so SIMD lanes never diverge.
// Their float64 twins are in src/cpu/elementwise.rs.

fn mse(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    return Pair(e * e, 2.0 * e);
}

fn mae(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    return Pair(abs(e), sign(e));
}

// p.x = beta; beta = 0 never takes the quadratic branch, which is L1 (as PyTorch).
fn smooth_l1(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let beta = p.x;
    let e = x - y;
    let quadratic = abs(e) < VT(beta);
    return Pair(
        select(abs(e) - 0.5 * beta, 0.5 * e * e / beta, quadratic),
        select(sign(e), e / beta, quadratic),
    );
}

// p.x = delta
fn huber(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let delta = p.x;
    let e = x - y;
    let quadratic = abs(e) <= VT(delta);
    return Pair(
        select(delta * (abs(e) - 0.5 * delta), 0.5 * e * e, quadratic),
        select(delta * sign(e), e, quadratic),
    );
}

// p.x = eps
fn charbonnier(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    let r = sqrt(e * e + p.x * p.x);
    return Pair(r, e / r);
}

// d = log((1+x)/(1+y)); near x = y the difference of two log1p's cancels, so the ratio
// minus one is formed as (x - y)/(1 + y) (x - y is exact there) and fed to the series.
fn msle(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let eps = VT(1e-7);
    let xc = max(x, eps);
    let yc = max(y, eps);
    let z = (xc - yc) / (1.0 + yc);
    let d = select(log((1.0 + xc) / (1.0 + yc)), log1p_series(z), abs(z) < VT(0.5));
    let dx = select(VT(0.0), 1.0 / (1.0 + x), x > eps);
    return Pair(d * d, 2.0 * d * dx);
}

// log(cosh e) = log1p(2·sinh²(e/2)) with sinh from expm1: accurate where Keras's
// |e| + softplus(-2|e|) - log 2 cancels (small |e|); that form beyond |e| = 4.
fn log_cosh(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    let ae = abs(e);
    let m = expm1_v(0.5 * min(ae, VT(4.0)));
    let sinh_half = m * (m + 2.0) / (2.0 * (m + 1.0));
    let near = log1p_v(2.0 * sinh_half * sinh_half);
    let far = ae + softplus(-2.0 * ae) - LN2;
    return Pair(select(far, near, ae < VT(4.0)), tanh_v(e));
}

// p.x = c
fn cauchy(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let c = p.x;
    let u = (x - y) / c;
    return Pair(log1p_v(u * u), 2.0 * u / (c * (1.0 + u * u)));
}

fn mape(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let e = x - y;
    let d = max(abs(y), VT(1e-7));
    return Pair(100.0 * abs(e) / d, 100.0 * sign(e) / d);
}

// a = var; p.x = eps, p.y = full (0 or 1). The clamp of var takes no gradient (PyTorch).
fn gaussian_nll(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    let v = max(a, VT(p.x));
    let e = x - y;
    let full = select(0.0, HALF_LOG_2PI, p.y != 0.0);
    return Pair(0.5 * (ln_v(v) + e * e / v) + full, e / v);
}

// p.x = log_input, p.y = full, p.z = eps. Stirling's term for y > 1 when full (PyTorch).
fn poisson_nll(x: VT, y: VT, a: VT, p: vec4<f32>) -> Pair {
    var r: Pair;
    if p.x != 0.0 {
        let ex = exp(x);
        r = Pair(ex - y * x, ex - y);
    } else {
        r = Pair(x - y * ln_v(x + p.z), 1.0 - y / (x + p.z));
    }
    if p.y != 0.0 {
        let stirling = y * ln_v(y) - y + 0.5 * ln_v(6.2831853071795865 * y);
        r.value += select(VT(0.0), stirling, y > VT(1.0));
    }
    return r;
}
