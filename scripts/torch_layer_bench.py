"""Time PyTorch CPU on EfficientNet-B0's convolution shapes: the yardstick
for effnet's own kernels.

Run with Debian's PyTorch (the python3 on PATH has no torch):

    apt-get install -y python3-torch python3-torchvision
    /usr/bin/python3 scripts/torch_layer_bench.py [--iters 30] [--json-only]

What is measured: each layer of the table below at batch 8, float32, bias=False,
with torch.set_num_threads(2), in both NCHW (PyTorch's default) and
channels_last memory formats (the input, weight and upstream gradient all in
that format). Forward alone runs under torch.no_grad(); forward+backward
computes the output, then both the input gradient and the weight gradient
(effnet's Layer.Backward returns the input gradient too, also for the stem),
with gradients reset to None each iteration as zero_grad does. After warm-up,
each configuration is timed per iteration and the median reported (with the
minimum beside it, and the load average in the JSON, to spot a busy machine).
GFLOP/s counts FLOPs = 2*N*OH*OW*Cout*kh*kw*Cin/groups for the forward and
three times that for forward+backward (output, input gradient and weight
gradient each cost one forward). The fair yardstick for a layer is the faster
of the two layouts.

Memory is kept between iterations. glibc hands blocks above its mmap threshold
back to the OS on free, so every iteration would map and fault in fresh pages
for tensors of tens of megabytes, which costs 2-9x on these VMs and measures
the kernel's page handling rather than convolution. The script therefore
re-executes itself once with MALLOC_MMAP_MAX_=0 (no mmap: every block comes
from the heap) and MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ large (freed heap is
never trimmed), the same as a long-running training process reaches in steady
state. Raising MALLOC_MMAP_THRESHOLD_ alone is not enough: glibc caps it at
32 MiB and the 1x1 16->96 output is 38.5 MB. Pass --no-malloc-tuning to see
the untuned numbers.

The last line printed is one JSON object with every number.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import retained_malloc
from retained_malloc import MALLOC_ENV


THREADS = 2
BATCH = 8

# name, cin, cout, kernel, stride, padding, groups, input height (= width)
LAYERS = [
    ("stem conv3x3 3->32 s2", 3, 32, 3, 2, 1, 1, 224),
    ("1x1 16->96 @112", 16, 96, 1, 1, 0, 1, 112),
    ("1x1 96->24 @56", 96, 24, 1, 1, 0, 1, 56),
    ("1x1 40->240 @28", 40, 240, 1, 1, 0, 1, 28),
    ("dw3x3 96 s2 @112", 96, 96, 3, 2, 1, 96, 112),
    ("dw3x3 32 s1 @112", 32, 32, 3, 1, 1, 32, 112),
    ("dw5x5 144 s2 @56", 144, 144, 5, 2, 2, 144, 56),
    ("dw5x5 240 s1 @28", 240, 240, 5, 1, 2, 240, 28),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=30, help="timed iterations per configuration (>= 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    p.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default malloc behaviour")
    p.add_argument("--json-only", action="store_true", help="print only the final JSON line")
    args = p.parse_args()
    if args.iters < 20:
        p.error("--iters must be at least 20 for a meaningful median")
    return args



def out_size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def flops(cin, cout, k, s, p, g, h):
    oh = out_size(h, k, s, p)
    return 2 * BATCH * oh * oh * cout * k * k * cin // g


def time_ms(fn, warmup, iters):
    """Median and minimum of iters timed calls, in milliseconds. The minimum
    is reported too because on a shared machine other processes only ever
    add time: when the median and minimum disagree a lot, the machine was
    busy and the numbers deserve a rerun."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def bench_layer(torch, spec, fmt, warmup, iters):
    _, cin, cout, k, s, p, g, h = spec
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, cin, h, h, generator=gen).contiguous(memory_format=fmt)
    w = (torch.randn(cout, cin // g, k, k, generator=gen) * 0.1).contiguous(memory_format=fmt)
    oh = out_size(h, k, s, p)
    dy = torch.randn(BATCH, cout, oh, oh, generator=gen).contiguous(memory_format=fmt)

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, None, s, p, 1, g)

    xg = x.clone().requires_grad_(True)
    wg = w.clone().requires_grad_(True)

    def forward_backward():
        xg.grad = None
        wg.grad = None
        y = F.conv2d(xg, wg, None, s, p, 1, g)
        y.backward(dy)

    # The layout must really be the one asked for, or the comparison is moot.
    with torch.no_grad():
        y = F.conv2d(x, w, None, s, p, 1, g)
    assert y.is_contiguous(memory_format=fmt), f"output not in {fmt}"
    return time_ms(forward, warmup, iters), time_ms(forward_backward, warmup, iters)


def main():
    args = parse_args()
    if not args.no_malloc_tuning:
        retained_malloc.reexec()
    import torch

    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()[0]
    layouts = [("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)]
    say = (lambda *a: None) if args.json_only else print
    say(f"torch {torch.__version__}, threads {torch.get_num_threads()}, mkldnn {torch.backends.mkldnn.is_available()}, "
        f"batch {BATCH}, float32, {args.iters} iters (median) after {args.warmup} warm-up, "
        f"malloc tuning {'off' if args.no_malloc_tuning else 'on'}")
    say(f"{'layer':24} {'layout':14} {'MFLOP':>8} {'fwd ms':>8} {'GFLOP/s':>8} {'(min ms)':>9} "
        f"{'fwd+bwd ms':>11} {'GFLOP/s':>8} {'(min ms)':>9}")
    results = []
    for spec in LAYERS:
        name = spec[0]
        fl = flops(*spec[1:])
        entry = {"name": name, "cin": spec[1], "cout": spec[2], "k": spec[3], "stride": spec[4],
                 "pad": spec[5], "groups": spec[6], "h": spec[7], "fwd_flops": fl}
        for lname, fmt in layouts:
            (fwd, fwd_min), (fb, fb_min) = bench_layer(torch, spec, fmt, args.warmup, args.iters)
            entry[lname] = {"fwd_ms": round(fwd, 4), "fwd_bwd_ms": round(fb, 4),
                            "fwd_gflops": round(fl / fwd / 1e6, 2), "fwd_bwd_gflops": round(3 * fl / fb / 1e6, 2),
                            "fwd_min_ms": round(fwd_min, 4), "fwd_bwd_min_ms": round(fb_min, 4)}
            say(f"{name:24} {lname:14} {fl / 1e6:8.1f} {fwd:8.3f} {fl / fwd / 1e6:8.2f} {fwd_min:9.3f} "
                f"{fb:11.3f} {3 * fl / fb / 1e6:8.2f} {fb_min:9.3f}")
        entry["best_fwd_ms"] = min(entry[l]["fwd_ms"] for l, _ in layouts)
        entry["best_fwd_bwd_ms"] = min(entry[l]["fwd_bwd_ms"] for l, _ in layouts)
        results.append(entry)
    say("")
    say(f"{'best of both layouts':24} {'fwd ms':>8} {'fwd+bwd ms':>11}")
    for e in results:
        say(f"{e['name']:24} {e['best_fwd_ms']:8.3f} {e['best_fwd_bwd_ms']:11.3f}")
    print(json.dumps({
        "torch": torch.__version__, "python": platform.python_version(), "threads": THREADS,
        "batch": BATCH, "dtype": "float32", "iters": args.iters, "warmup": args.warmup,
        "malloc_env": {} if args.no_malloc_tuning else MALLOC_ENV,
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)], "layers": results,
    }))


if __name__ == "__main__":
    main()
