#!/usr/bin/env python3
"""PyTorch's SSIM on this machine's CPU, to set beside `gpu-loss bench ssim --grad`.

Times pytorch_msssim.ssim (valid padding, window 11, sigma 1.5, data_range 1; the same
convention as gpu-loss's ssim) forward + backward, and optionally the 3D Gaussian splatting
code's formula (an 11×11 window, zero padding `same`) written in plain torch. Median wall time
of --reps calls after one warm-up, float32, torch's default thread count unless --threads.

    python3 benches/ssim_peer.py --sizes 3x1080x1920,5x3x1080x1920 [--same] [--json FILE]

Sizes are CxHxW or NxCxHxW as `gpu-loss bench --sizes` takes them. The JSON records carry
gpu-loss bench's fields where they mean the same thing (loss, n, shape, grad, bytes, gbps),
plus `impl` and `ms` (this library's time per call; there is no GPU here, so no gpu_ms).
"""

import argparse
import importlib.metadata
import json
import math
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse_size(text):
    dims = [int(d.replace("_", "")) for d in text.lower().split("x")]
    if len(dims) == 3:
        dims = [1] + dims
    if len(dims) != 4 or min(dims) <= 0:
        sys.exit(f"size {text!r}: expected CxHxW or NxCxHxW")
    return dims


def picture(shape, seed):
    """Smooth planes plus noise in [0, 1], as gpu-loss's Draw::Picture (not the same bits)."""
    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    i = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
    j = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
    ch = torch.arange(c, dtype=torch.float32).view(1, c, 1, 1)
    smooth = 0.5 + 0.35 * torch.sin(0.11 * i + 0.7 * ch) * torch.cos(0.07 * j - 0.3 * ch)
    noise = (torch.rand((n, c, h, w), generator=g) - 0.5) * 0.2
    return (smooth + noise).clamp(0.0, 1.0).contiguous()


def gaussian(window, sigma):
    x = torch.arange(window, dtype=torch.float32) - window // 2
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def ssim_same(x, y, window=11, sigma=1.5, c1=0.01**2, c2=0.03**2):
    """The 3DGS code's ssim: an 11×11 window, zero padding, the mean of the map."""
    c = x.shape[1]
    g = gaussian(window, sigma)
    w = (g[:, None] * g[None, :]).expand(c, 1, window, window).contiguous()
    pad = window // 2
    mu1 = F.conv2d(x, w, padding=pad, groups=c)
    mu2 = F.conv2d(y, w, padding=pad, groups=c)
    s11 = F.conv2d(x * x, w, padding=pad, groups=c) - mu1 * mu1
    s22 = F.conv2d(y * y, w, padding=pad, groups=c) - mu2 * mu2
    s12 = F.conv2d(x * y, w, padding=pad, groups=c) - mu1 * mu2
    num = (2 * mu1 * mu2 + c1) * (2 * s12 + c2)
    den = (mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2)
    return (num / den).mean()


def time_call(fn, x, y, grad, reps):
    def once():
        if grad:
            x.grad = None
            value = fn(x, y)
            value.backward()
        else:
            with torch.no_grad():
                value = fn(x, y)
        return float(value.detach())

    once()  # warm-up: allocator, threads
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3x1080x1920,5x3x1080x1920")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-grad", action="store_true", help="forward only")
    ap.add_argument("--same", action="store_true", help="also the 3DGS formula (padding same)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", help="write one record per (implementation, size)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import pytorch_msssim

    try:
        msssim_version = importlib.metadata.version("pytorch_msssim")
    except importlib.metadata.PackageNotFoundError:
        msssim_version = "?"
    grad = not args.no_grad
    impls = [
        (
            f"pytorch_msssim {msssim_version}",
            lambda x, y: pytorch_msssim.ssim(x, y, data_range=1.0, size_average=True),
        )
    ]
    if args.same:
        impls.append(("3dgs formula (plain torch, padding same)", ssim_same))
    adapter = f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__} on {adapter}, median of {args.reps}, wall time")
    print(f"{'impl':<44} {'size':>16} {'grad':>5} {'ms':>10} {'GB/s':>8}")
    records = []
    for text in args.sizes.split(","):
        shape = parse_size(text)
        n = math.prod(shape)
        x = picture(shape, 1).requires_grad_(grad)
        y = picture(shape, 2)
        # gpu-loss bench's bytes: each tensor read once, the gradient written once.
        nbytes = 4 * n * (3 if grad else 2)
        for name, fn in impls:
            ms = time_call(fn, x, y, grad, max(args.reps, 1))
            gbps = nbytes / (ms * 1e6)
            print(f"{name:<44} {text:>16} {'yes' if grad else 'no':>5} {ms:>10.1f} {gbps:>8.3f}")
            records.append(
                {
                    "adapter": adapter,
                    "backend": "cpu",
                    "impl": name,
                    "torch": torch.__version__,
                    "loss": "ssim",
                    "n": n,
                    "shape": shape,
                    "grad": grad,
                    "ms": ms,
                    "bytes": nbytes,
                    "gbps": gbps,
                    "clock": "wall",
                }
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
