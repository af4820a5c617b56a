"""PyTorch's side of the side-by-side benchmark: the same measurements as build/dcgan_bench.

Run with /usr/bin/python3 (PyTorch 1.13 CPU). One mode per process, so the peak RSS belongs to one
configuration; bench/compare.py drives it.

    /usr/bin/python3 bench/pytorch_bench.py train --arch seed --img-size 32 --channels 1 \
        --batch 64 --warmup 3 --steps 20 --threads 2
        One training step in the seed's order (PyTorch-GAN dcgan.py): G step (zero_grad, G(z),
        BCE(D(gen), 1), backward, Adam) then D step (zero_grad, (BCE(D(real), 1) +
        BCE(D(gen.detach()), 0)) / 2, backward, Adam); Adam(2e-4, (0.5, 0.999)); DCGAN init.
        Fixed random in-memory data (uniform [-1, 1]) and N(0, 1) latents: a pool of 4 batches,
        cycled, as dcgan_bench does.
    /usr/bin/python3 bench/pytorch_bench.py generate --arch dcgan --img-size 64 --channels 3 \
        --batch 1 --warmup 10 --steps 200 --threads 2
        Eval-mode G(z) under torch.no_grad(), copied into a preallocated output.
    /usr/bin/python3 bench/pytorch_bench.py flops --arch seed --img-size 32 --channels 1

Threads: PyTorch runs best here with OMP_NUM_THREADS = T, OPENBLAS_NUM_THREADS = 1 and
torch.set_num_threads(T), the setting docs/performance.md uses (OpenBLAS threads inside OpenMP
threads compete for the cores and slow the small models down). The environment variables must be set before torch is
imported; this script sets them from --threads when the caller has not (compare.py sets them).

Output: one JSON object on stdout with the fields dcgan_bench prints (impl, mode, arch, img_size,
channels, ngf, ndf, latent_dim, batch, threads, warmup, steps, times_ms, median_ms, img_per_s,
flop_per_image, gflops, peak_rss_mb (VmHWM; ru_maxrss_mb beside it)). FLOPs are counted from the modules the same way as
bench/flops.hpp: 2 x multiply-adds of Conv2d / ConvTranspose2d / Linear (weight numel times the
output map for Conv2d, the input map for ConvTranspose2d), per image:
    G forward + G weight grad + G data grad (all layers but the first)
    + 3 D forwards + D weight and data grads in the G step
    + 2 x (D weight grad + D data grad of all layers but the first) in the D step.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "generate", "flops"])
    ap.add_argument("--arch", choices=["seed", "dcgan"], default="seed")
    ap.add_argument("--img-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--latent-dim", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=0, help="default: seed 16, dcgan 64")
    ap.add_argument("--ndf", type=int, default=0, help="default: seed 16, dcgan 64")
    ap.add_argument("--kernel", type=int, default=4)
    ap.add_argument("--batch", type=int, default=None, help="default: train 64, generate 1")
    ap.add_argument("--warmup", type=int, default=None, help="default: train 3, generate 10")
    ap.add_argument("--steps", type=int, default=None, help="default: train 20, generate 200")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="stop timing after this many seconds of timed iterations (0: no limit)")
    ap.add_argument("--min-steps", type=int, default=3,
                    help="timed iterations kept even past --max-seconds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    gen = a.mode == "generate"
    if a.batch is None:
        a.batch = 1 if gen else 64
    if a.warmup is None:
        a.warmup = 10 if gen else 3
    if a.steps is None:
        a.steps = 200 if gen else 20
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("need --batch >= 1, --steps >= 1, --warmup >= 0, --threads >= 1")
    default_width = 16 if a.arch == "seed" else 64
    a.ngf = a.ngf or default_width
    a.ndf = a.ndf or default_width
    return a


ARGS = parse_args(sys.argv[1:])
# Before importing torch: its OpenMP pool and OpenBLAS read these at load time.
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
from models import build, weights_init  # noqa: E402


def ru_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def peak_rss_mb() -> float:
    """VmHWM of /proc/self/status (this process image's high-water mark) in MiB. ru_maxrss is
    reported beside it, but on Linux it survives exec (a child starts with its parent's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return ru_maxrss_mb()


def net_flops(net: nn.Module, example: torch.Tensor) -> dict:
    """Per-image FLOPs of one pass of each Conv2d / ConvTranspose2d / Linear, in call order."""
    layers = []

    def hook(mod, inp, out):
        x = inp[0]
        w = mod.weight.numel()
        if isinstance(mod, nn.ConvTranspose2d):
            macs = w * x.shape[2] * x.shape[3]
        elif isinstance(mod, nn.Conv2d):
            macs = w * out.shape[2] * out.shape[3]
        else:
            macs = w
        layers.append({"layer": repr(mod), "flop_per_image": 2.0 * macs})

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(example)
    net.train(was_training)
    for h in handles:
        h.remove()
    fwd = sum(l["flop_per_image"] for l in layers)
    return {"forward_flop_per_image": fwd, "first": layers[0]["flop_per_image"], "layers": layers}


def model_flops(G, D, a) -> dict:
    g = net_flops(G, torch.zeros(1, a.latent_dim))
    d = net_flops(D, torch.zeros(1, a.channels, a.img_size, a.img_size))
    gf, df = g["forward_flop_per_image"], d["forward_flop_per_image"]
    train = (gf + gf + (gf - g["first"])        # G: forward, weight grad, data grad but not into z
             + 3 * df                           # D forwards: G step, real, fake
             + df + df                          # G step: D weight grad (PyTorch computes it) + data grad
             + 2 * (df + (df - d["first"])))    # D step: twice weight grad + data grad but not into images
    return {"generator": g, "discriminator": d, "train_flop_per_image": train,
            "generate_flop_per_image": gf}


def timed_loop(a, fn):
    """fn(i) for a.warmup untimed then up to a.steps timed iterations (fewer when a.max_seconds
    runs out, but at least a.min_steps); returns the timed wall times in ms."""
    times, spent = [], 0.0
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        fn(i)
        ms = (time.perf_counter() - t0) * 1e3
        if i < a.warmup:
            continue
        times.append(ms)
        spent += ms
        if a.max_seconds > 0 and spent > a.max_seconds * 1e3 and len(times) >= a.min_steps:
            break
    return times


def base_fields(a, mode):
    return {"impl": "pytorch", "mode": mode, "arch": a.arch, "img_size": a.img_size,
            "channels": a.channels, "ngf": a.ngf, "ndf": a.ndf, "latent_dim": a.latent_dim,
            "kernel": a.kernel, "batch": a.batch, "threads": a.threads, "warmup": a.warmup,
            "steps_requested": a.steps, "max_seconds": a.max_seconds, "torch_version": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "env": {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def make_pool(a, batch, n):
    g = torch.Generator().manual_seed(a.seed + 12345)
    real = [torch.rand(batch, a.channels, a.img_size, a.img_size, generator=g) * 2 - 1 for _ in range(n)]
    z = [torch.randn(batch, a.latent_dim, generator=g) for _ in range(n)]
    return real, z


def run_train(a) -> dict:
    torch.manual_seed(a.seed)
    G, D = build(a.arch, a.latent_dim, a.channels, a.img_size, a.ngf, a.ndf, a.kernel)
    G.apply(weights_init)
    D.apply(weights_init)
    flops = model_flops(G, D, a)
    G.train()
    D.train()
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    ones = torch.ones(a.batch, 1)
    zeros = torch.zeros(a.batch, 1)
    pool_real, pool_z = make_pool(a, a.batch, 4)
    losses = {}

    def step(i):
        real, z = pool_real[i % 4], pool_z[i % 4]
        # G step
        opt_G.zero_grad()
        gen = G(z)
        g_loss = bce(D(gen), ones)
        g_loss.backward()
        opt_G.step()
        # D step
        opt_D.zero_grad()
        real_loss = bce(D(real), ones)
        fake_loss = bce(D(gen.detach()), zeros)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        opt_D.step()
        losses["d"], losses["g"] = d_loss, g_loss

    times = timed_loop(a, step)
    med = statistics.median(times)
    ips = a.batch * 1e3 / med
    out = base_fields(a, "train")
    out.update(steps=len(times), times_ms=times, median_ms=med, img_per_s=ips,
               flop_per_image=flops["train_flop_per_image"],
               gflops=flops["train_flop_per_image"] * ips / 1e9,
               peak_rss_mb=peak_rss_mb(), ru_maxrss_mb=ru_maxrss_mb(),
               last_losses={k: float(v) for k, v in losses.items()}, flops=flops)
    return out


def run_generate(a) -> dict:
    torch.manual_seed(a.seed)
    G, D = build(a.arch, a.latent_dim, a.channels, a.img_size, a.ngf, a.ndf, a.kernel)
    G.apply(weights_init)
    flops = model_flops(G, D, a)
    del D
    G.eval()
    _, pool_z = make_pool(a, a.batch, 2)
    out_buf = torch.empty(a.batch, a.channels, a.img_size, a.img_size)
    with torch.no_grad():
        times = timed_loop(a, lambda i: out_buf.copy_(G(pool_z[i % 2])))
    med = statistics.median(times)
    ips = a.batch * 1e3 / med
    out = base_fields(a, "generate")
    out.update(steps=len(times), times_ms=times, median_ms=med, latency_ms_per_image=med / a.batch, img_per_s=ips,
               flop_per_image=flops["generate_flop_per_image"],
               gflops=flops["generate_flop_per_image"] * ips / 1e9,
               peak_rss_mb=peak_rss_mb(), ru_maxrss_mb=ru_maxrss_mb())
    return out


def run_flops(a) -> dict:
    G, D = build(a.arch, a.latent_dim, a.channels, a.img_size, a.ngf, a.ndf, a.kernel)
    out = base_fields(a, "flops")
    out["flops"] = model_flops(G, D, a)
    return out


def main(a) -> int:
    torch.set_num_threads(a.threads)
    if a.mode == "train":
        res = run_train(a)
    elif a.mode == "generate":
        res = run_generate(a)
    else:
        res = run_flops(a)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
