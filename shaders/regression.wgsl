// Section A of LOSSES.md: elementwise regression losses.
//
// Each function returns vec2(loss, d loss / d x) for one element, e = x - y. `a` is the
// loss's extra tensor (gaussian_nll's var) and `p` its parameters in catalogue order.
// Their float64 twins are in src/cpu/elementwise.rs.

fn mse(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let e = x - y;
    return vec2(e * e, 2.0 * e);
}

fn mae(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let e = x - y;
    return vec2(abs(e), sign(e));
}

// p.x = beta; beta = 0 never takes the quadratic branch, which is L1 (as PyTorch).
fn smooth_l1(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let beta = p.x;
    let e = x - y;
    if abs(e) < beta {
        return vec2(0.5 * e * e / beta, e / beta);
    }
    return vec2(abs(e) - 0.5 * beta, sign(e));
}

// p.x = delta
fn huber(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let delta = p.x;
    let e = x - y;
    if abs(e) <= delta {
        return vec2(0.5 * e * e, e);
    }
    return vec2(delta * (abs(e) - 0.5 * delta), delta * sign(e));
}

// p.x = eps
fn charbonnier(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let e = x - y;
    let r = sqrt(e * e + p.x * p.x);
    return vec2(r, e / r);
}

fn msle(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let d = log1p_f(max(x, 1e-7)) - log1p_f(max(y, 1e-7));
    let dx = select(0.0, 1.0 / (1.0 + x), x > 1e-7);
    return vec2(d * d, 2.0 * d * dx);
}

// Below |e| = 1/4 the series: |e| + softplus(-2|e|) - log 2 cancels to noise there.
fn log_cosh(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let e = x - y;
    let ae = abs(e);
    var v: f32;
    if ae < 0.25 {
        let e2 = e * e;
        v = e2 * (0.5 + e2 * (-1.0 / 12.0 + e2 * (1.0 / 45.0 + e2 * (-17.0 / 2520.0))));
    } else {
        v = ae + softplus(-2.0 * ae) - LN2;
    }
    return vec2(v, tanh_f(e));
}

// p.x = c
fn cauchy(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let c = p.x;
    let u = (x - y) / c;
    return vec2(log1p_f(u * u), 2.0 * u / (c * (1.0 + u * u)));
}

fn mape(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let e = x - y;
    let d = max(abs(y), 1e-7);
    return vec2(100.0 * abs(e) / d, 100.0 * sign(e) / d);
}

// a = var; p.x = eps, p.y = full (0 or 1). The clamp of var takes no gradient (PyTorch).
fn gaussian_nll(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    let v = max(a, p.x);
    let e = x - y;
    let full = select(0.0, HALF_LOG_2PI, p.y != 0.0);
    return vec2(0.5 * (log(v) + e * e / v) + full, e / v);
}

// p.x = log_input, p.y = full, p.z = eps. Stirling's term for y > 1 when full (PyTorch).
fn poisson_nll(x: f32, y: f32, a: f32, p: vec4<f32>) -> vec2<f32> {
    var r: vec2<f32>;
    if p.x != 0.0 {
        let ex = exp(x);
        r = vec2(ex - y * x, ex - y);
    } else {
        r = vec2(x - y * log(x + p.z), 1.0 - y / (x + p.z));
    }
    if p.y != 0.0 && y > 1.0 {
        r.x += y * log(y) - y + 0.5 * log(6.2831853071795865 * y);
    }
    return r;
}
