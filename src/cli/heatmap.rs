//! A map of values in [0, 1] as a colour picture: viridis (perceptually uniform, readable in
//! grey and by most colour-blind eyes), written as an 8-bit RGB PNG without a legend.

/// matplotlib's viridis at entries 0, 25, 51, ..., 255 of its 256 (t = entry / 255),
/// interpolated linearly: a picture to look at, not a lookup to invert.
const VIRIDIS: [(f32, [f32; 3]); 11] = [
    (0.0, [0.267004, 0.004874, 0.329415]),
    (25.0, [0.282623, 0.140926, 0.457517]),
    (51.0, [0.253935, 0.265254, 0.529983]),
    (76.0, [0.206756, 0.371758, 0.553117]),
    (102.0, [0.163625, 0.471133, 0.558148]),
    (128.0, [0.127568, 0.566949, 0.550556]),
    (153.0, [0.134692, 0.658636, 0.517649]),
    (178.0, [0.259857, 0.745492, 0.444467]),
    (204.0, [0.477504, 0.821444, 0.318195]),
    (229.0, [0.730889, 0.871916, 0.156029]),
    (255.0, [0.993248, 0.906157, 0.143936]),
];

/// The colour of `t`, clamped to [0, 1] (NaN is drawn as 0: dark, "not similar").
pub fn viridis(t: f32) -> [u8; 3] {
    let t = if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, 1.0) * 255.0
    };
    let k = VIRIDIS
        .windows(2)
        .position(|w| t <= w[1].0)
        .unwrap_or(VIRIDIS.len() - 2);
    let ((t0, c0), (t1, c1)) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let f = (t - t0) / (t1 - t0);
    std::array::from_fn(|i| ((c0[i] + f * (c1[i] - c0[i])) * 255.0).round() as u8)
}

/// `values` (row-major, `width × height`) as a viridis PNG, in memory.
pub fn png(width: usize, height: usize, values: &[f32]) -> Result<Vec<u8>, String> {
    let rgb: Vec<u8> = values.iter().flat_map(|&v| viridis(v)).collect();
    let (w, h) = (u32::try_from(width), u32::try_from(height));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(format!("{width} × {height} is too large for a PNG"));
    };
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}
