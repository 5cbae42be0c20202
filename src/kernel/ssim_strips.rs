//! shaders/ssim.wgsl's entries for CPU drivers, written out for one window: each invocation
//! filters a strip of STRIP_W × STRIP_H map positions (or gradient pixels) in registers.
//!
//! Why: lavapipe and llvmpipe (Mesa 22) load and store storage and workgroup memory one lane
//! and one component at a time, while arithmetic is SIMD: memory accesses are what costs.
//! The 16×16 tiles make about 110 of them per position in each entry; a strip reads each
//! source once per row it spans, about 5 per position for the moments and 8 for the
//! gradient at STRIP_W = 8, STRIP_H = 64 (4× faster at 1080p on lavapipe). STRIP_W = 16
//! was another 17% faster but doubled the cold compile (2.7 s on llvmpipe GL, window 15).
//!
//! The rows of a strip stream through: each source row is filtered along x into STRIP_W sums
//! per moment, then added into the WINDOW − 1 output rows still open, whose sums move up one
//! row per source row. Everything is a named scalar (no private arrays: GL drivers turn
//! their indexing into branch ladders), so the host writes the unrolled code here.

use std::fmt::Write;

/// Map positions (or pixels) per strip, across and down.
pub(crate) const STRIP_W: u32 = 8;
pub(crate) const STRIP_H: u32 = 64;
/// Invocations per workgroup, side by side along x.
pub(crate) const STRIP_GROUP: u32 = 64;

/// The five moments of x − sx and y − sy, and P0..P2.
const MOMENTS: [&str; 5] = ["x", "y", "xx", "yy", "xy"];
const PARTS: [&str; 3] = ["p0", "p1", "p2"];

/// `sources` (names of the per-column source values, loaded as `{name}_{k}`) filtered along
/// x into `h{m}_{c}`.
fn horizontal(s: &mut String, window: u32, sources: &[&str]) {
    for (m, name) in sources.iter().enumerate() {
        for c in 0..STRIP_W {
            let terms: Vec<String> = (0..window)
                .map(|t| format!("g{t} * {name}_{}", c + t))
                .collect();
            let _ = writeln!(s, "        let h{m}_{c} = {};", terms.join(" + "));
        }
    }
}

/// The gradient's rows: `sources` filtered along x, then added into the open output rows
/// `q{j}_{m}_{c}`; the finished row's sums are `o{m}_{c}`.
fn filter(s: &mut String, window: u32, sources: &[&str]) {
    let w = window as usize;
    horizontal(s, window, sources);
    // Output row j of the open ones (j = 0 finishes now) takes tap WINDOW − 1 − j of this row.
    for m in 0..sources.len() {
        for c in 0..STRIP_W as usize {
            let _ = writeln!(
                s,
                "        let o{m}_{c} = q0_{m}_{c} + g{} * h{m}_{c};",
                w - 1
            );
            for j in 0..w - 2 {
                let _ = writeln!(
                    s,
                    "        q{j}_{m}_{c} = q{}_{m}_{c} + g{} * h{m}_{c};",
                    j + 1,
                    w - 2 - j
                );
            }
            let _ = writeln!(s, "        q{}_{m}_{c} = g0 * h{m}_{c};", w - 2);
        }
    }
}

/// The moments' rows: `x_k` .. `xy_k` (the sources less this row's shift `sx`, `sy`) filtered
/// along x into `h{m}_{c}`, then added into the open output rows. Each open row j keeps its
/// own shift (`sx{j}`, `sy{j}`: its first row's), so that the variances cancel only as much
/// as within one window, as in the tiles: with D = this row's shift less row j's, row j takes
/// tap·(h + D-terms): E[x'] += g·(A + D), E[x'²] += g·(B + 2D·A + D²), E[x'y'] += g·(C +
/// Dx·Ay + Dy·Ax + Dx·Dy). The D-only parts (`d{j}_{i}`) are the same for every column. The
/// finished row is `o{m}_{c}` + `od{i}` with shift (`osx`, `osy`).
fn shifted_filter(s: &mut String, window: u32) {
    let w = window as usize;
    horizontal(s, window, &MOMENTS);
    for j in 0..w - 1 {
        let g = w - 1 - j;
        let _ = writeln!(
            s,
            "        let dx{j} = sx - sx{j};\n        let dy{j} = sy - sy{j};\n        \
             let gx{j} = g{g} * dx{j};\n        let gy{j} = g{g} * dy{j};"
        );
    }
    for j in 0..w - 1 {
        let g = w - 1 - j;
        // Row j's new sums go to the output (j = 0) or to slot j − 1.
        let (assign, d, q) = match j {
            0 => ("let ".to_string(), "od".to_string(), "o".to_string()),
            _ => (
                String::new(),
                format!("d{}_", j - 1),
                format!("q{}_", j - 1),
            ),
        };
        let d_terms = [
            format!("gx{j}"),
            format!("gy{j}"),
            format!("gx{j} * dx{j}"),
            format!("gy{j} * dy{j}"),
            format!("gx{j} * dy{j}"),
        ];
        for (i, term) in d_terms.iter().enumerate() {
            let _ = writeln!(s, "        {assign}{d}{i} = d{j}_{i} + {term};");
        }
        for c in 0..STRIP_W as usize {
            let q_terms = [
                String::new(),
                String::new(),
                format!(" + 2.0 * gx{j} * h0_{c}"),
                format!(" + 2.0 * gy{j} * h1_{c}"),
                format!(" + gx{j} * h1_{c} + gy{j} * h0_{c}"),
            ];
            for (m, extra) in q_terms.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "        {assign}{q}{m}_{c} = q{j}_{m}_{c} + g{g} * h{m}_{c}{extra};"
                );
            }
        }
        match j {
            0 => {
                let _ = writeln!(s, "        let osx = sx0;\n        let osy = sy0;");
            }
            _ => {
                let _ = writeln!(
                    s,
                    "        sx{} = sx{j};\n        sy{} = sy{j};",
                    j - 1,
                    j - 1
                );
            }
        }
    }
    // This row opens the last slot: its own shift, no D-terms yet.
    let last = w - 2;
    let _ = writeln!(s, "        sx{last} = sx;\n        sy{last} = sy;");
    for i in 0..MOMENTS.len() {
        let _ = writeln!(s, "        d{last}_{i} = 0.0;");
    }
    for m in 0..MOMENTS.len() {
        for c in 0..STRIP_W as usize {
            let _ = writeln!(s, "        q{last}_{m}_{c} = g0 * h{m}_{c};");
        }
    }
}

/// Declarations of the taps and the open rows' sums for `count` quantities.
fn declare(s: &mut String, window: u32, count: usize) {
    for t in 0..window {
        let _ = writeln!(s, "    let g{t} = tap({t}u);");
    }
    for j in 0..window - 1 {
        for m in 0..count {
            for c in 0..STRIP_W {
                let _ = writeln!(s, "    var q{j}_{m}_{c} = 0.0;");
            }
        }
    }
}

/// Column checks of the strip's STRIP_W + WINDOW − 1 source columns from `c0` against `width`:
/// `cin{k}` and the clamped column `cl{k}`.
fn columns(s: &mut String, window: u32, width: &str) {
    for k in 0..STRIP_W + window - 1 {
        let _ = writeln!(
            s,
            "    let cin{k} = c0 + {k} >= 0 && c0 + {k} < i32({width});\n    \
             let cl{k} = u32(clamp(c0 + {k}, 0, i32({width}) - 1));"
        );
    }
}

/// The WGSL of both entries for `window` taps (after shaders/ssim.wgsl).
pub(crate) fn strips(window: u32) -> String {
    let k_cols = STRIP_W + window - 1;
    let mut s = format!(
        "const STRIP_W: u32 = {STRIP_W}u;\nconst STRIP_H: u32 = {STRIP_H}u;\n\n\
         @compute @workgroup_size(WG_SIZE)\nfn moments(ids: Ids) {{\n"
    );
    s.push_str(
        "    img = img_uniform;
    acc_setup(ids.nwg.x);
    let plane = ids.wid.z;
    let mx0 = (ids.wid.x * WG_SIZE + ids.lid) * STRIP_W;
    let my0 = ids.wid.y * STRIP_H;
    let c0 = i32(mx0) - i32(img.pad);
    let r0 = i32(my0) - i32(img.pad);
    let xb = img.x_at + plane * img.width * img.height;
    let yb = img.y_at + plane * img.width * img.height;
",
    );
    columns(&mut s, window, "img.width");
    declare(&mut s, window, MOMENTS.len());
    for j in 0..window - 1 {
        let _ = writeln!(s, "    var sx{j} = 0.0;\n    var sy{j} = 0.0;");
        for i in 0..MOMENTS.len() {
            let _ = writeln!(s, "    var d{j}_{i} = 0.0;");
        }
    }
    s.push_str(
        "    var acc = ACC_ZERO;
    var bad = false;
    for (var r = 0u; r < STRIP_H + WINDOW - 1u; r++) {
        let row = r0 + i32(r);
        let rok = row >= 0 && row < i32(img.height);
        let ra = u32(clamp(row, 0, i32(img.height) - 1)) * img.width;
",
    );
    // Loads from clamped places, then zeros (padding) where outside; a NaN only counts inside.
    for k in 0..k_cols {
        let _ = writeln!(
            s,
            "        let xr_{k} = x_buf[xb + ra + cl{k}];\n        \
             let yr_{k} = y_buf[yb + ra + cl{k}];\n        \
             let ok{k} = rok && cin{k};\n        \
             bad = bad || (ok{k} && (is_nan_f(xr_{k}) || is_nan_f(yr_{k})));\n        \
             let xv_{k} = select(0.0, xr_{k}, ok{k});\n        \
             let yv_{k} = select(0.0, yr_{k}, ok{k});"
        );
    }
    // This row's shift: its middle source as loaded, so a row of padding takes the nearest
    // pixel's value rather than 0, which would leave the variances unshifted.
    let _ = writeln!(
        s,
        "        let sx = xr_{0};\n        let sy = yr_{0};",
        k_cols / 2
    );
    for k in 0..k_cols {
        let _ = writeln!(
            s,
            "        let x_{k} = xv_{k} - sx;\n        let y_{k} = yv_{k} - sy;\n        \
             let xx_{k} = x_{k} * x_{k};\n        let yy_{k} = y_{k} * y_{k};\n        \
             let xy_{k} = x_{k} * y_{k};"
        );
    }
    shifted_filter(&mut s, window);
    s.push_str(
        "        if r >= WINDOW - 1u {
            let my = my0 + r - (WINDOW - 1u);
",
    );
    for c in 0..STRIP_W {
        let _ = writeln!(
            s,
            "            acc = position(acc, plane, mx0 + {c}u, my, Moments(vec4<f32>(\
             o0_{c} + od0, o1_{c} + od1, o2_{c} + od2, o3_{c} + od3), o4_{c} + od4), \
             vec2<f32>(osx, osy));"
        );
    }
    s.push_str(
        "        }
    }
    if bad {
        report_nans(plane, r0, c0, STRIP_H + WINDOW - 1u, STRIP_W + WINDOW - 1u);
    }
    put_partial(ids, workgroup_reduce(ids, acc));
}

@compute @workgroup_size(WG_SIZE)
fn gradient(ids: Ids) {
    img = img_uniform;
    let plane = ids.wid.z;
    let px0 = (ids.wid.x * WG_SIZE + ids.lid) * STRIP_W;
    let py0 = ids.wid.y * STRIP_H;
    // The adjoint of a correlation padded by `pad` pads WINDOW − 1 − pad.
    let lead = i32(WINDOW - 1u - img.pad);
    let c0 = i32(px0) - lead;
    let r0 = i32(py0) - lead;
    let stride = img.map_width * img.map_height;
    let pa = parts_at(plane);
    let scale = grad_scale_of(plane);
",
    );
    columns(&mut s, window, "img.map_width");
    declare(&mut s, window, PARTS.len());
    s.push_str(
        "    for (var r = 0u; r < STRIP_H + WINDOW - 1u; r++) {
        let row = r0 + i32(r);
        let rok = row >= 0 && row < i32(img.map_height);
        let ra = pa + u32(clamp(row, 0, i32(img.map_height) - 1)) * img.map_width;
",
    );
    for k in 0..k_cols {
        let _ = writeln!(
            s,
            "        let ok{k} = rok && cin{k};\n        \
             let p0_{k} = select(0.0, parts[ra + cl{k}], ok{k});\n        \
             let p1_{k} = select(0.0, parts[ra + stride + cl{k}], ok{k});\n        \
             let p2_{k} = select(0.0, parts[ra + 2u * stride + cl{k}], ok{k});"
        );
    }
    filter(&mut s, window, &PARTS);
    s.push_str(
        "        if r >= WINDOW - 1u {
            let py = py0 + r - (WINDOW - 1u);
",
    );
    for c in 0..STRIP_W {
        let _ = writeln!(
            s,
            "            put_grad(plane, px0 + {c}u, py, vec3<f32>(o0_{c}, o1_{c}, o2_{c}), scale);"
        );
    }
    s.push_str("        }\n    }\n}\n");
    s
}

/// Workgroups across and down for a `width × height` grid of positions.
pub(crate) fn groups(width: usize, height: usize) -> (u32, u32) {
    let across = width
        .div_ceil(STRIP_W as usize)
        .div_ceil(STRIP_GROUP as usize);
    (across as u32, height.div_ceil(STRIP_H as usize) as u32)
}
