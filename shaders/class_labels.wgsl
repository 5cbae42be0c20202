// Cross-entropy's pre-pass over the class labels (and the class weights), before the row kernel:
// - every label must be a class in [0, C) or the ignored label: the first row that is neither
//   is recorded (status, as !row; the host reads that row's label for the message);
// - the weighted mean's denominators: Σ w[y_n] and the count over non-ignored rows, and Σ_c w_c
//   for label smoothing (not for nll, which reads w[y_n] alone);
// - NaN in the class weights read: every one where Σ_c w_c is taken, else w[y_n] (first class).
// `label_norms` (one workgroup) then turns the sums into the scales the row kernel multiplies by,
// so a gradient written in the row kernel is already that of the reduced loss.
//
// The host prepends WG_SIZE, LABEL_WORDS (1: int32, 2: int64), HAS_WEIGHT, common.wgsl,
// reduce.wgsl, scratch.wgsl, labels.wgsl and one tree strategy. The row kernel's partials go
// after this pass's three slots' worth, so the norms stay where the finish pass reads them.

// One dispatch of `count` covers the labels of one segment of rows (a binding window); the
// first also sums the class weights. `finish` folds every dispatch's partials.
struct LabelPass {
    rows: u32,          // labels in this dispatch's window
    first_row: u32,     // their first row in the whole tensor
    classes: u32,
    t_at: u32,          // first label, in words
    w_at: u32,
    slots: u32,         // partial slots per sum: the workgroups of every dispatch
    slot_at: u32,       // this dispatch's first slot
    count_classes: u32, // 1 in the dispatch that sums the class weights
    index_target: u32,  // 0: probability targets (no labels to read)
    reduction_mean: u32,
    total_rows: u32,
    ignore_lo: u32,
    ignore_hi: u32,
    ignore: u32,        // 0: no label is ignored
    keras_mean: u32,    // 1: mean over kept rows + 1e-7, 0 when all are ignored (Keras)
    scale: f32,         // a weight on the reduced loss and its gradient (an objective's term)
}

// scratch.norms: [0] scale of the cross-entropy part, [1] of the z-loss part, [2] Σ_c w_c,
// [3] divisor of the reduced value (0: a mean over no row, NaN). The first bad row's label
// goes to the status words STATUS_BAD_LABEL_LO/HI.

@group(0) @binding(0) var<uniform> lp_uniform: LabelPass;
// Read through a private copy that each entry point makes (common.wgsl says why).
var<private> lp: LabelPass;
@group(0) @binding(1) var<storage, read> label_words: array<u32>;
// Binding 2 (class_weight) and load_class_weight are emitted by the host for its dtype.
@group(0) @binding(3) var<storage, read_write> scratch: Scratch;

fn weight_of(c: u32) -> f32 {
    if HAS_WEIGHT {
        return load_class_weight(lp.w_at + c);
    }
    return 1.0;
}

@compute @workgroup_size(WG_SIZE)
fn count(ids: Ids) {
    lp = lp_uniform;
    acc_setup(ids.nwg.x);
    halves_setup(ids.nwg.x);
    var weighted = ACC_ZERO;
    var counted = ACC_ZERO;
    var weights = ACC_ZERO;
    let stride = ids.nwg.x * WG_SIZE;
    let start = ids.wid.x * WG_SIZE + ids.lid;
    if lp.index_target != 0u {
        for (var n = start; n < lp.rows; n += stride) {
            let l = read_label(lp.t_at, n, lp.ignore, lp.ignore_lo, lp.ignore_hi);
            if l.ignored {
                continue;
            }
            if l.index < 0 || u32(l.index) >= lp.classes {
                atomicMax(&scratch.status[STATUS_BAD_LABEL], ~(lp.first_row + n));
                continue;
            }
            let w = weight_of(u32(l.index));
            if is_nan_f(w) {
                atomicMax(&scratch.status[STATUS_NAN_WEIGHT], ~u32(l.index));
            }
            weighted = acc_add(weighted, w);
            counted = acc_add(counted, 1.0);
        }
    }
    if lp.count_classes != 0u {
        for (var c = start; c < lp.classes; c += stride) {
            let w = weight_of(c);
            if is_nan_f(w) {
                atomicMax(&scratch.status[STATUS_NAN_WEIGHT], ~c);
            }
            weights = acc_add(weights, w);
        }
    }
    let a = workgroup_reduce(ids, weighted);
    let b = workgroup_reduce(ids, counted);
    let w = workgroup_reduce(ids, weights);
    if ids.lid == 0u {
        let slot = lp.slot_at + ids.wid.x;
        scratch.partials[slot] = a;
        scratch.partials[lp.slots + slot] = b;
        scratch.partials[2u * lp.slots + slot] = w;
    }
}

@compute @workgroup_size(WG_SIZE)
fn finish(ids: Ids) {
    lp = lp_uniform;
    acc_setup(ids.nwg.x);
    halves_setup(ids.nwg.x);
    var a = ACC_ZERO;
    var b = ACC_ZERO;
    var w = ACC_ZERO;
    for (var i = ids.lid; i < lp.slots; i += WG_SIZE) {
        a = acc_combine(a, scratch.partials[i]);
        b = acc_combine(b, scratch.partials[lp.slots + i]);
        w = acc_combine(w, scratch.partials[2u * lp.slots + i]);
    }
    let weighted = acc_value(workgroup_reduce(ids, a));
    let counted = acc_value(workgroup_reduce(ids, b));
    let weights = acc_value(workgroup_reduce(ids, w));
    if ids.lid == 0u {
        // Probability targets: every row counts once, whatever the class weights (PyTorch).
        var d_loss = f32(lp.total_rows);
        var d_z = f32(lp.total_rows);
        if lp.keras_mean != 0u {
            // Keras divides by the kept rows + 1e-7: all ignored gives 0, not NaN.
            d_loss = counted + 1e-7;
            d_z = d_loss;
        } else if lp.index_target != 0u {
            d_loss = weighted;
            d_z = counted;
        }
        var ce_scale = 1.0;
        var z_scale = 1.0;
        var divisor = 1.0;
        if lp.reduction_mean != 0u {
            // A mean over no row is NaN (the divisor 0 says so); the gradient stays 0.
            ce_scale = select(0.0, 1.0 / d_loss, d_loss != 0.0);
            z_scale = select(0.0, 1.0 / d_z, d_z != 0.0);
            divisor = select(0.0, 1.0, d_loss != 0.0 && lp.total_rows != 0u);
        }
        scratch.norms[0] = ce_scale * lp.scale;
        scratch.norms[1] = z_scale * lp.scale;
        scratch.norms[2] = weights;
        scratch.norms[3] = divisor;
    }
}
