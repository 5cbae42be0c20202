#!/usr/bin/env python3
"""PyTorch's own losses timed like `gpu-loss bench`, for side-by-side ratios.

    python3 benches/torch_peer.py [LOSS ...] [--sizes 65536,16777216,4096x32768] [--grad]
        [--reps 5] [--device cuda|cpu] [--json FILE] [--compare GPU_LOSS_BENCH.json]

Times torch.nn.functional's mse, huber, smooth_l1, bce_with_logits, cross_entropy, kl_div and
cosine_similarity on CUDA when present (CUDA events around each call), else on the CPU (wall
clock), with the shapes `gpu-loss bench` uses for the same --sizes (a count N is [N] for the
elementwise losses and [N/1024, 1024] for the row losses; RxC is [R, C]). --grad times the loss
and its backward pass together. Writes records with the fields of `gpu-loss bench --json`
(adapter, backend, loss, n, shape, grad, gpu_ms, bytes, gbps, copy_gbps, ratio_to_copy, clock).
--compare reads `gpu-loss bench --json` records and prints both side by side with their ratio.
"""

import argparse
import json
import statistics
import sys
import time

ROW_WIDTH = 1024
ELEMENTWISE = ["mse", "huber", "smooth_l1", "bce_with_logits", "kl_div"]
ROWS = ["cross_entropy", "cosine_similarity"]


def shape_of(loss, size):
    if "x" in size:
        r, c = (int(v) for v in size.lower().split("x"))
        return [r, c]
    n = int(size.replace("_", ""))
    if loss in ROWS:
        return [max(n // ROW_WIDTH, 1), min(n, ROW_WIDTH)]
    return [n]


def make_call(torch, F, loss, shape, device, grad):
    """The inputs and a function computing the loss (and its backward when grad)."""
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(shape, device=device, generator=gen).requires_grad_(grad)
    if loss == "cross_entropy":
        labels = torch.randint(0, shape[-1], shape[:-1], device=device, generator=gen)
        f, other, extra_bytes = (lambda: F.cross_entropy(x, labels)), labels, 8 * labels.numel()
    elif loss == "cosine_similarity":
        y = torch.randn(shape, device=device, generator=gen)
        f, extra_bytes = (lambda: (1 - F.cosine_similarity(x, y, dim=-1)).mean()), 4 * y.numel()
    else:
        y = torch.randn(shape, device=device, generator=gen)
        if loss == "bce_with_logits":
            y = (y > 0).float()
        if loss == "kl_div":
            y = torch.softmax(y, dim=-1)
        fn = {
            "mse": lambda: F.mse_loss(x, y),
            "huber": lambda: F.huber_loss(x, y, delta=1.0),
            "smooth_l1": lambda: F.smooth_l1_loss(x, y, beta=1.0),
            "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(x, y),
            "kl_div": lambda: F.kl_div(x, y, reduction="mean"),
        }[loss]
        f, extra_bytes = fn, 4 * y.numel()
    # Bytes as gpu-loss counts them: each input once, the gradient once.
    bytes_moved = 4 * x.numel() + extra_bytes + (4 * x.numel() if grad else 0)

    def call():
        if grad:
            x.grad = None
            f().backward()
        else:
            with torch.no_grad():
                f()

    return call, bytes_moved, x


def timed(torch, device, call, reps):
    """Median milliseconds of `call` over `reps` after two warm-up calls."""
    for _ in range(2):
        call()
    times = []
    for _ in range(reps):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            call()
            times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def copy_gbps(torch, device, x, reps):
    """The device's own copy of a tensor of this size, read and written (as gpu-loss's copy)."""
    src = x.detach()
    dst = torch.empty_like(src)
    ms = timed(torch, device, lambda: dst.copy_(src), reps)
    return 2 * 4 * src.numel() / (ms * 1e6)


def compare(ours_path, records):
    ours = json.load(open(ours_path))
    key = lambda r: (r["loss"], r["n"], r["grad"])
    theirs = {key(r): r for r in records}
    print(f"{'loss':<18}{'n':>12} grad {'gpu-loss ms':>12} {'torch ms':>10} {'torch/ours':>11}  adapters")
    for r in ours:
        t = theirs.get(key(r))
        if t is None:
            continue
        ratio = t["gpu_ms"] / r["gpu_ms"] if r["gpu_ms"] else float("nan")
        print(
            f"{r['loss']:<18}{r['n']:>12} {str(r['grad']):<5}{r['gpu_ms']:>12.3f} {t['gpu_ms']:>10.3f}"
            f" {ratio:>11.2f}  {r['adapter']} ({r['backend']}) | {t['adapter']} ({t['backend']})"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("losses", nargs="*", default=["mse", "huber", "bce_with_logits", "cross_entropy"])
    ap.add_argument("--sizes", default="65536,1048576,16777216")
    ap.add_argument("--grad", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", choices=["cuda", "cpu"])
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads (default 1: spinning thread pools time badly on shared cores)")
    ap.add_argument("--json")
    ap.add_argument("--compare")
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit("torch_peer.py: PyTorch is not installed (pip install torch)")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(args.threads)
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_peer.py: --device cuda, but PyTorch sees no CUDA device")
    adapter = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    unknown = [l for l in args.losses if l not in ELEMENTWISE + ROWS]
    if unknown:
        sys.exit(f"torch_peer.py: no PyTorch peer for {unknown}; known: {ELEMENTWISE + ROWS}")
    records = []
    for loss in args.losses:
        for size in args.sizes.split(","):
            shape = shape_of(loss, size.strip())
            call, bytes_moved, x = make_call(torch, F, loss, shape, device, args.grad)
            ms = timed(torch, device, call, args.reps)
            copy = copy_gbps(torch, device, x, args.reps)
            gbps = bytes_moved / (ms * 1e6)
            n = 1
            for d in shape:
                n *= d
            rec = {
                "adapter": adapter,
                "backend": f"torch-{device}",
                "loss": loss,
                "n": n,
                "shape": shape,
                "grad": args.grad,
                "gpu_ms": ms,
                "bytes": bytes_moved,
                "gbps": gbps,
                "copy_gbps": copy,
                "ratio_to_copy": gbps / copy,
                "clock": "cuda events" if device == "cuda" else "wall clock",
            }
            records.append(rec)
            print(f"{loss:<18}{str(shape):>18} grad={args.grad!s:<5} {ms:10.3f} ms {gbps:8.2f} GB/s "
                  f"({gbps / copy:.2f} of copy)", flush=True)
            del call, x
            if device == "cuda":
                torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    if args.compare:
        compare(args.compare, records)


if __name__ == "__main__":
    main()
