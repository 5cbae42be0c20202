// A stable LSD radix sort of (key, position) pairs, 4 bits a pass, 8 passes
// (wasserstein_1d_samples' sort for large inputs; bitonic.wgsl keeps small ones). Keys are f32
// bit patterns, ordered as floats by flipping them to order-preserving u32 (−0 as +0, so equal
// floats keep their positions, as the float compare does). Each pass is three dispatches and no
// workgroup ever waits for another:
// - `count`: each tile of WG_SIZE · ps.per keys counts its digits into counts[d · tiles + t],
//   and keeps each invocation's counts of the keys before its own in the tile;
// - `scan`: workgroup d turns row d into exclusive prefixes over tiles, its total after them;
// - `scatter`: each tile ranks its keys by (digit, position) and writes them at
//   (keys of smaller digits) + (this digit in earlier tiles) + (this digit earlier in the tile),
//   reading its keys once (the last term is what `count` kept).
// An invocation owns ps.per consecutive keys of its tile, so its order within the tile is the
// keys' order. The host prepends WG_SIZE (at least RADIX).

struct Pass {
    count: u32,
    tiles: u32,
    shift: u32,
    // Keys an invocation owns in a tile: a multiple of 4, at most 255 (its counts are 8 bits a
    // digit), WG_SIZE · per < 65536 (a tile's are 16).
    per: u32,
}

@group(0) @binding(0) var<uniform> ps_uniform: Pass;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> ps: Pass;
@group(0) @binding(1) var<storage, read> keys_in: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> order_in: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> order_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;

const RADIX: u32 = 16u;
// The cross-invocation scan rakes: RAKERS invocations each run over RAKE entries.
const RAKE: u32 = min(16u, WG_SIZE);
const RAKERS: u32 = WG_SIZE / RAKE;

// The digit of a key's order-preserving form.
fn digit_of(bits: u32) -> u32 {
    var b = bits;
    if b == 0x80000000u {
        b = 0u;
    }
    let flip = select(0x80000000u, 0xffffffffu, (b >> 31u) != 0u);
    return ((b ^ flip) >> ps.shift) & (RADIX - 1u);
}

// RADIX counts of 16 bits, two a word (digit d: word d / 2, half d % 2): an invocation's or a
// tile's (under 65536 keys), added as plain vectors, kept in registers without dynamic indexing.
struct Counts {
    a: vec4<u32>,
    b: vec4<u32>,
}

const NO_COUNTS: Counts = Counts(vec4<u32>(0u), vec4<u32>(0u));

fn add_counts(x: Counts, y: Counts) -> Counts {
    return Counts(x.a + y.a, x.b + y.b);
}

fn count_of(c: Counts, d: u32) -> u32 {
    let w = d >> 1u;
    var word = c.b[w & 3u];
    if w < 4u {
        word = c.a[w];
    }
    return (word >> ((d & 1u) * 16u)) & 0xffffu;
}

var<workgroup> rake_a: array<vec4<u32>, WG_SIZE>;
var<workgroup> rake_b: array<vec4<u32>, WG_SIZE>;
var<workgroup> raker_a: array<vec4<u32>, RAKERS>;
var<workgroup> raker_b: array<vec4<u32>, RAKERS>;
var<workgroup> tile_base: array<u32, RADIX>;

struct Scanned {
    before: Counts,
    total: Counts,
}

// The sum of x over the invocations before this one, and over all. Three barriers; called by
// the whole workgroup from uniform control flow.
fn scan_counts(lid: u32, x: Counts) -> Scanned {
    rake_a[lid] = x.a;
    rake_b[lid] = x.b;
    workgroupBarrier();
    if lid < RAKERS {
        var run = NO_COUNTS;
        for (var k = 0u; k < RAKE; k++) {
            let i = lid * RAKE + k;
            let here = Counts(rake_a[i], rake_b[i]);
            rake_a[i] = run.a;
            rake_b[i] = run.b;
            run = add_counts(run, here);
        }
        raker_a[lid] = run.a;
        raker_b[lid] = run.b;
    }
    workgroupBarrier();
    var before = Counts(rake_a[lid], rake_b[lid]);
    var total = NO_COUNTS;
    for (var r = 0u; r < RAKERS; r++) {
        let c = Counts(raker_a[r], raker_b[r]);
        if r < lid / RAKE {
            before = add_counts(before, c);
        }
        total = add_counts(total, c);
    }
    // The next call's writes must not overtake these reads.
    workgroupBarrier();
    return Scanned(before, total);
}

// One key of digit d, for an invocation's own counts: 8 bits a digit (digit d in byte d % 4 of
// word d / 4), since an invocation owns at most ps.per (≤ 255) keys; one vector, where 16-bit
// counts take two and 16 running bases four.
fn one_hot8(d: u32) -> vec4<u32> {
    let inc = vec4<u32>(1u << ((d & 3u) * 8u));
    return select(vec4<u32>(0u), inc, vec4<u32>(d >> 2u) == vec4<u32>(0u, 1u, 2u, 3u));
}

// A word of four 8-bit counts (one_hot8's layout) as two words of two 16-bit ones (Counts').
fn widen(x: u32) -> vec2<u32> {
    return vec2<u32>(
        (x & 0xffu) | (((x >> 8u) & 0xffu) << 16u),
        ((x >> 16u) & 0xffu) | ((x >> 24u) << 16u),
    );
}

// The digits of this invocation's keys in tile t, counted. Keys are read four at a time (CPU
// drivers load storage lane by lane: one 16-byte load costs about what a 4-byte one does);
// buffers hold whole vec4s, and keys past ps.count count for nothing.
fn own_counts(t: u32, lid: u32) -> Counts {
    let first = (t * WG_SIZE + lid) * ps.per;
    var c = vec4<u32>(0u);
    for (var q = 0u; q < ps.per; q += 4u) {
        let k = keys_in[(first + q) / 4u];
        for (var r = 0u; r < 4u; r++) {
            if first + q + r < ps.count {
                c += one_hot8(digit_of(k[r]));
            }
        }
    }
    return Counts(vec4<u32>(widen(c.x), widen(c.y)), vec4<u32>(widen(c.z), widen(c.w)));
}

// Where each digit's first key of an invocation goes: digit d in component d % 4 of q[d / 4];
// kept in registers.
struct Bases {
    q0: vec4<u32>,
    q1: vec4<u32>,
    q2: vec4<u32>,
    q3: vec4<u32>,
}

// Digit d's base: selects on d's bits, no branch and no lane-varying index.
fn pick(b: Bases, d: u32) -> u32 {
    let mid = (d & 4u) != 0u;
    let v = select(select(b.q0, b.q1, mid), select(b.q2, b.q3, mid), (d & 8u) != 0u);
    let pair = select(v.xy, v.zw, (d & 2u) != 0u);
    return select(pair.x, pair.y, (d & 1u) != 0u);
}

// Digit d's count in one_hot8's layout.
fn count8_of(c: vec4<u32>, d: u32) -> u32 {
    let pair = select(c.xy, c.zw, (d & 8u) != 0u);
    let word = select(pair.x, pair.y, (d & 4u) != 0u);
    return (word >> ((d & 3u) * 8u)) & 0xffu;
}

// Where an invocation's counts of the keys before its own in tile t are kept: after the
// RADIX rows of tile counts and their totals, eight words per invocation.
fn kept_at(t: u32, lid: u32) -> u32 {
    return RADIX * (ps.tiles + 1u) + 8u * (t * WG_SIZE + lid);
}

@compute @workgroup_size(WG_SIZE)
fn count(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    ps = ps_uniform;
    for (var t = wid.x; t < ps.tiles; t += nwg.x) {
        let s = scan_counts(lid, own_counts(t, lid));
        if lid < RADIX {
            counts[lid * ps.tiles + t] = count_of(s.total, lid);
        }
        let at = kept_at(t, lid);
        for (var w = 0u; w < 4u; w++) {
            counts[at + w] = s.before.a[w];
            counts[at + 4u + w] = s.before.b[w];
        }
    }
}

// RADIX workgroups: workgroup d scans row d (each invocation a contiguous span of it).
@compute @workgroup_size(WG_SIZE)
fn scan(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    ps = ps_uniform;
    let row = wid.x * ps.tiles;
    let span = (ps.tiles + WG_SIZE - 1u) / WG_SIZE;
    let first = row + min(lid * span, ps.tiles);
    let end = row + min(lid * span + span, ps.tiles);
    var sum = 0u;
    for (var i = first; i < end; i++) {
        sum += counts[i];
    }
    let s = scan_counts(lid, Counts(vec4<u32>(sum, 0u, 0u, 0u), vec4<u32>(0u)));
    var run = s.before.a.x;
    for (var i = first; i < end; i++) {
        let c = counts[i];
        counts[i] = run;
        run += c;
    }
    if lid == 0u {
        counts[RADIX * ps.tiles + wid.x] = s.total.a.x;
    }
}

@compute @workgroup_size(WG_SIZE)
fn scatter(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    ps = ps_uniform;
    for (var t = wid.x; t < ps.tiles; t += nwg.x) {
        if lid < RADIX {
            var below = 0u;
            for (var e = 0u; e < lid; e++) {
                below += counts[RADIX * ps.tiles + e];
            }
            tile_base[lid] = below + counts[lid * ps.tiles + t];
        }
        workgroupBarrier();
        let kept = kept_at(t, lid);
        let before = Counts(
            vec4<u32>(counts[kept], counts[kept + 1u], counts[kept + 2u], counts[kept + 3u]),
            vec4<u32>(counts[kept + 4u], counts[kept + 5u], counts[kept + 6u], counts[kept + 7u]),
        );
        var at: array<u32, RADIX>;
        for (var d = 0u; d < RADIX; d++) {
            at[d] = tile_base[d] + count_of(before, d);
        }
        let b = Bases(
            vec4<u32>(at[0], at[1], at[2], at[3]),
            vec4<u32>(at[4], at[5], at[6], at[7]),
            vec4<u32>(at[8], at[9], at[10], at[11]),
            vec4<u32>(at[12], at[13], at[14], at[15]),
        );
        let first = (t * WG_SIZE + lid) * ps.per;
        var seen = vec4<u32>(0u);
        for (var q = 0u; q < ps.per; q += 4u) {
            let k = keys_in[(first + q) / 4u];
            let o = order_in[(first + q) / 4u];
            for (var r = 0u; r < 4u; r++) {
                if first + q + r < ps.count {
                    let d = digit_of(k[r]);
                    let dest = pick(b, d) + count8_of(seen, d);
                    seen += one_hot8(d);
                    keys_out[dest] = k[r];
                    order_out[dest] = o[r];
                }
            }
        }
        // The next tile's tile_base must not overtake these reads.
        workgroupBarrier();
    }
}
