//! `bench --plot`: GB/s against size, one line per loss and a dashed line for the buffer copy,
//! one panel per adapter, as a plain SVG (text is left to the viewer, so no fonts are needed).

use std::collections::BTreeMap;
use std::fmt::Write;

/// One measurement: `gbps` of loss `series` at `n` elements on the adapter `panel`, beside the
/// copy's `copy_gbps` for the same traffic.
pub struct Point {
    pub panel: String,
    pub series: String,
    pub n: usize,
    pub gbps: f64,
    pub copy_gbps: f64,
}

const WIDTH: f64 = 760.0;
const PANEL_HEIGHT: f64 = 340.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

/// 65536 → "65.5k", 16777216 → "16.8M".
fn compact(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.3}G", n / 1e9),
        n if n >= 1e6 => format!("{:.3}M", n / 1e6),
        n if n >= 1e3 => format!("{:.3}k", n / 1e3),
        n => format!("{n}"),
    }
    .replace(".000", "")
}

/// A round step for about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn svg(title: &str, points: &[Point]) -> String {
    let mut panels: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in points {
        panels.entry(&p.panel).or_default().push(p);
    }
    let height = TOP + panels.len().max(1) as f64 * (PANEL_HEIGHT + BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    for (i, (panel, pts)) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_HEIGHT + BOTTOM);
        draw_panel(&mut s, panel, pts, top);
    }
    s.push_str("</svg>\n");
    s
}

fn draw_panel(s: &mut String, name: &str, pts: &[&Point], top: f64) {
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let (y0, y1) = (top + PANEL_HEIGHT - BOTTOM, top + 20.0);
    let ns: Vec<f64> = pts.iter().map(|p| p.n as f64).collect();
    let (mut lo, mut hi) = ns
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &n| (a.min(n), b.max(n)));
    if hi / lo < 4.0 {
        lo /= 2.0;
        hi *= 2.0;
    }
    let ymax = pts
        .iter()
        .flat_map(|p| [p.gbps, p.copy_gbps])
        .filter(|v| v.is_finite())
        .fold(0f64, f64::max)
        .max(1e-3)
        * 1.1;
    let step = tick_step(ymax);
    let x = |n: f64| x0 + (n.ln() - lo.ln()) / (hi.ln() - lo.ln()) * (x1 - x0);
    let y = |v: f64| y0 - v / ymax * (y0 - y1);

    let _ = writeln!(
        s,
        r#"<text x="{x0}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
        y1 - 6.0,
        escape(name)
    );
    // Grid and axes.
    let mut v = 0.0;
    while v <= ymax {
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" x2="{x1}" y1="{0:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{1}" y="{2:.1}" text-anchor="end">{3}</text>"##,
            y(v),
            x0 - 6.0,
            y(v) + 4.0,
            (v * 1000.0).round() / 1000.0
        );
        v += step;
    }
    let mut ticks = ns.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for n in &ticks {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{y0}" y2="{1}" stroke="#999"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
            x(*n),
            y0 + 5.0,
            y0 + 18.0,
            compact(*n)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" stroke="black"/><line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="black"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">elements per tensor</text>"#,
        (x0 + x1) / 2.0,
        y0 + 36.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">GB/s (read + written)</text>"#,
        x0 - 48.0,
        (y0 + y1) / 2.0
    );

    // One polyline per loss; the copy as the median of its measurements at each size.
    let mut series: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut copies: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for p in pts {
        series
            .entry(&p.series)
            .or_default()
            .push((p.n as f64, p.gbps));
        copies.entry(p.n as u64).or_default().push(p.copy_gbps);
    }
    let copy: Vec<(f64, f64)> = copies
        .into_iter()
        .map(|(n, mut c)| {
            c.sort_by(f64::total_cmp);
            (n as f64, c[c.len() / 2])
        })
        .collect();
    let mut legend = Vec::new();
    let line = |s: &mut String, pts: &[(f64, f64)], colour: &str, dash: &str| {
        let coords: Vec<String> = pts
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|&(n, v)| format!("{:.1},{:.1}", x(n), y(v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
            coords.join(" ")
        );
        for c in &coords {
            let (cx, cy) = c.split_once(',').expect("x,y");
            let _ = writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>"#);
        }
    };
    line(s, &copy, "#444", r#" stroke-dasharray="6 4""#);
    legend.push(("buffer copy".to_string(), "#444", true));
    for (k, (name, mut pts)) in series.into_iter().enumerate() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let colour = COLOURS[k % COLOURS.len()];
        line(s, &pts, colour, "");
        legend.push((name.to_string(), colour, false));
    }
    for (k, (name, colour, dashed)) in legend.iter().enumerate() {
        let ly = y1 + 10.0 + 18.0 * k as f64;
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<line x1="{0}" x2="{1}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text x="{2}" y="{3}">{4}</text>"#,
            x1 + 16.0,
            x1 + 40.0,
            x1 + 46.0,
            ly + 4.0,
            escape(name)
        );
    }
}
