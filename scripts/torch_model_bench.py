"""Time PyTorch CPU on a whole EfficientNet-B0: the yardstick for effnet's
model throughput (go run ./examples/bench -torch runs this script).

Run with Debian's PyTorch (the python3 on PATH has no torch):

    apt-get install -y python3-torch python3-torchvision
    /usr/bin/python3 scripts/torch_model_bench.py --mode train --resolution 224 --batch 32

What is measured: torchvision's efficientnet_b0 with random weights (no
download) and 1000 classes, float32, torch.set_num_threads(2), on random
input. --mode eval times model(x) in eval mode under torch.inference_mode();
--mode train times one SGD step, zero_grad / forward / CrossEntropy /
backward / step, with SGD(lr 0.01, momentum 0.9), in train mode (dropout,
stochastic depth and batch statistics active, as in effnet's train step).
Every iteration is timed on its own after the warm-up; images/s is batch
over the median step time (minimum and maximum are reported beside it: on
a shared machine other processes only ever add time, so a large spread
means a busy machine and numbers worth a rerun).

Memory layout: --channels-last on (the default) converts the model and the
input to torch.channels_last, which on this machine (oneDNN 2.6, AVX-512)
is the faster layout for B0 in both modes; --channels-last off keeps NCHW.

Memory is kept between iterations. glibc hands blocks above its mmap
threshold back to the OS on free, so every iteration would map and fault in
fresh pages for the activations (tens to hundreds of megabytes), which
costs 2-9x on these VMs and measures the kernel's page handling rather than
the network. The script therefore re-executes itself once, before importing
torch, with MALLOC_MMAP_MAX_=0 (no mmap: every block comes from the heap)
and MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ large (freed heap is never
given back), the state a long-running training process reaches anyway.
Raising MALLOC_MMAP_THRESHOLD_ alone is not enough: glibc caps it at 32 MiB
(HEAP_MAX on 64-bit) and B0's largest activations at batch 32 are bigger.
--no-malloc-tuning shows the untuned numbers. No LD_PRELOAD allocator is
needed.

Peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss, the high-water mark
of this process (it survives the re-exec, but the process is small before
torch is imported).

The last line printed is one JSON object with every number.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

import retained_malloc
from retained_malloc import MALLOC_ENV

THREADS = 2
CLASSES = 1000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["eval", "train"], default="eval")
    p.add_argument("--resolution", type=int, default=224, help="input height and width in pixels")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iters", type=int, default=10, help="timed iterations (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    p.add_argument("--channels-last", choices=["on", "off"], default="on",
                   help="use torch.channels_last for model and input (default on: faster here)")
    p.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default malloc behaviour")
    p.add_argument("--json-only", action="store_true", help="print only the final JSON line")
    args = p.parse_args()
    if args.iters < 1 or args.warmup < 0 or args.batch < 1 or args.resolution < 32:
        p.error("need --iters >= 1, --warmup >= 0, --batch >= 1 and --resolution >= 32")
    if args.mode == "train" and args.batch < 2:
        p.error("train mode needs --batch >= 2 (BatchNorm batch statistics)")
    return args



def main():
    args = parse_args()
    if not args.no_malloc_tuning:
        retained_malloc.reexec()
    import torch
    import torchvision

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    load_before = os.getloadavg()[0]
    fmt = torch.channels_last if args.channels_last == "on" else torch.contiguous_format
    model = torchvision.models.efficientnet_b0(weights=None, num_classes=CLASSES)
    model = model.to(memory_format=fmt)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution).contiguous(memory_format=fmt)
    labels = torch.randint(0, CLASSES, (args.batch,))

    if args.mode == "eval":
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    else:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), labels)
            loss.backward()
            opt.step()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    result = {
        "framework": "torch", "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "model": "efficientnet_b0", "classes": CLASSES,
        "mode": args.mode, "resolution": args.resolution, "batch": args.batch, "dtype": "float32",
        "threads": torch.get_num_threads(), "channels_last": args.channels_last == "on",
        "iters": args.iters, "warmup": args.warmup,
        "img_s": round(args.batch / med, 3),
        "img_s_best": round(args.batch / min(times), 3),
        "img_s_worst": round(args.batch / max(times), 3),
        "step_ms_median": round(1e3 * med, 3),
        "peak_rss_mb": round(rss_mb, 1),
        "malloc_env": {} if args.no_malloc_tuning else MALLOC_ENV,
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if not args.json_only:
        print(f"torch {torch.__version__}, efficientnet_b0 {args.mode} {args.resolution}px batch {args.batch}, "
              f"{result['threads']} threads, channels_last {args.channels_last}: "
              f"{result['img_s']:.2f} img/s (median of {args.iters}; best {result['img_s_best']:.2f}, "
              f"worst {result['img_s_worst']:.2f}), peak RSS {rss_mb:.0f} MB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
