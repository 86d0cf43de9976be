"""Time PyTorch CPU on the matrix products of EfficientNet-B0's 1x1
convolutions: the yardstick for effnet's SGEMM benchmark
(go test ./internal/gemm -bench 'PeakAllCores|BenchmarkSgemm$').

Run with Debian's PyTorch (the python3 on PATH has no torch):

    /usr/bin/python3 scripts/torch_gemm_bench.py [--iters 50] [--batch 8]

Each 1x1 convolution from Cin to Cout channels on an HxW map at batch N is
three products with M = N*H*W rows, named as in internal/gemm's benchmarks:

    fwd  Y  = X·Wᵀ   (M x Cout, k = Cin)
    dX   dX = dY·W   (M x Cin,  k = Cout)
    dW   dW = dYᵀ·X  (Cout x Cin, k = M)

What is timed is what PyTorch runs for the layer, with
torch.set_num_threads(2): oneDNN's 1x1 convolution in channels_last
(F.conv2d for fwd, aten.convolution_backward with one output selected for dX
and dW). torch.mm is no yardstick on this machine: Debian's build links a
generic BLAS that runs these products at 3 to 6 GFLOP/s. GFLOP/s counts 2*M*Cout*Cin per product. Memory is kept between iterations
as in torch_layer_bench.py (see retained_malloc.py). Medians of --iters
timed calls after warm-up; the last line is one JSON object.
"""

import argparse
import json
import os

import retained_malloc
from torch_layer_bench import time_ms

THREADS = 2

# name, cin, cout, spatial: the same list as b0Shapes in internal/gemm.
CONVS = [
    ("expand16to96@112", 16, 96, 112),
    ("project96to24@56", 96, 24, 56),
    ("expand24to144@56", 24, 144, 56),
    ("project144to40@28", 144, 40, 28),
    ("expand40to240@28", 40, 240, 28),
    ("project480to80@14", 480, 80, 14),
    ("project1152to192@7", 1152, 192, 7),
    ("head320to1280@7", 320, 1280, 7),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    retained_malloc.reexec()
    import torch

    torch.set_num_threads(THREADS)
    F = torch.nn.functional
    cl = torch.channels_last
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"{args.iters} iters (median) after {args.warmup} warm-up")
    print(f"{'product':28} {'MFLOP':>8} {'GFLOP/s':>8}")
    results = []
    load_before = os.getloadavg()[0]
    for name, cin, cout, hw in CONVS:
        n = args.batch
        m = n * hw * hw
        x = torch.randn(n, cin, hw, hw, generator=gen).contiguous(memory_format=cl)
        w = (torch.randn(cout, cin, 1, 1, generator=gen) * 0.1).contiguous(memory_format=cl)
        dy = torch.randn(n, cout, hw, hw, generator=gen).contiguous(memory_format=cl)
        flops = 2 * m * cin * cout

        def conv_bwd(mask):
            return lambda: torch.ops.aten.convolution_backward(
                dy, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

        with torch.no_grad():
            paths = {
                "fwd": lambda: F.conv2d(x, w),
                "dX": conv_bwd([True, False, False]),
                "dW": conv_bwd([False, True, False]),
            }
            for kind, fn in paths.items():
                t = time_ms(fn, args.warmup, args.iters)[0] / 1e3  # median, seconds
                full = f"{kind}/{name}"
                results.append({"name": full, "mflop": round(flops / 1e6, 1),
                                "gflops": round(flops / t / 1e9, 1)})
                print(f"{full:28} {flops / 1e6:8.1f} {flops / t / 1e9:8.1f}")
    print(json.dumps({"torch": torch.__version__, "threads": THREADS, "batch": args.batch,
                      "iters": args.iters, "loadavg_1min_before_after":
                      [round(load_before, 2), round(os.getloadavg()[0], 2)], "products": results}))


if __name__ == "__main__":
    main()
