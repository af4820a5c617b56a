#!/usr/bin/python3
"""The side-by-side training-quality experiment (issue: evaluation, part 5).

The `seed` model on Fashion-MNIST 32x32, trained by the PyTorch reference script
(tools/reference/train_pytorch.py) and by `dcgan train`, same hyper-parameters and epochs, for
several seeds. After every epoch each run's generator is scored with `dcgan eval` (FID with our
Fashion-MNIST feature network, the same sample count for both); then:
  - final FID, mean +- std over seeds, for both;
  - the training wall time each needed to reach the PyTorch runs' mean final FID;
  - fixed-noise grids of both.
Writes runs/experiment/<...> and docs/results.md (+ docs/img/results_*.png).

    /usr/bin/python3 tools/experiment_fid.py [--epochs 5] [--seeds 1 2 3] [--n 10000] [--build build]

Run it on a quiet machine: the times compared are wall-clock training times (start-up excluded:
PyTorch's per-step times from its timing.json, ours from the elapsed_s of metrics.jsonl).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS_PER_EPOCH = 60000 // 64  # Fashion-MNIST train split, batch 64, last partial batch dropped


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


def fid_of(dcgan, ckpt, n, out_json):
    run([dcgan, "eval", "--checkpoint", ckpt, "-n", str(n), "--json", out_json, "--quiet", "--threads", "2"],
        stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)["fid"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--n", type=int, default=10000, help="generated images per FID")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "experiment"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    a = ap.parse_args()
    dcgan = os.path.join(a.build, "dcgan")
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1")
    results = {"pytorch": [], "dcgan": []}
    for seed in a.seeds:
        # PyTorch reference run, a checkpoint at every epoch end.
        pt = os.path.join(a.out, f"pytorch_seed{seed}")
        shutil.rmtree(pt, ignore_errors=True)
        run(["/usr/bin/python3", os.path.join(ROOT, "tools/reference/train_pytorch.py"), "--out", pt,
             "--epochs", str(a.epochs), "--seed", str(seed), "--threads", "2", "--quiet",
             "--checkpoint-every", str(STEPS_PER_EPOCH), "--sample-every", "0"], env=env)
        with open(os.path.join(pt, "timing.json")) as f:
            step_ms = json.load(f)["step_ms"]
        # Ours, same recipe.
        us = os.path.join(a.out, f"dcgan_seed{seed}")
        shutil.rmtree(us, ignore_errors=True)
        run([dcgan, "train", "--out", us, "--epochs", str(a.epochs), "--seed", str(seed), "--threads", "2",
             "--quiet", "--checkpoint-every", "0", "--keep", str(a.epochs + 1), "--sample-every", "0"], env=env)
        elapsed = {}
        with open(os.path.join(us, "metrics.jsonl")) as f:
            for line in f:
                j = json.loads(line)
                if "elapsed_s" in j:
                    elapsed[j["step"]] = j["elapsed_s"]
        for who, d, times in (("pytorch", pt, None), ("dcgan", us, elapsed)):
            curve = []
            for e in range(1, a.epochs + 1):
                step = e * STEPS_PER_EPOCH
                ckpt = os.path.join(d, "checkpoints", f"step_{step:07d}.safetensors")
                fid = fid_of(dcgan, ckpt, a.n, os.path.join(d, f"eval_epoch{e}.json"))
                t = sum(step_ms[:step]) / 1e3 if who == "pytorch" else times[step]
                curve.append({"epoch": e, "step": step, "fid": fid, "train_s": t})
            results[who].append({"seed": seed, "curve": curve, "dir": d})
            print(f"{who} seed {seed}: " + ", ".join(f"e{c['epoch']} FID {c['fid']:.2f} @ {c['train_s']:.0f}s"
                                                      for c in curve), file=sys.stderr, flush=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_docs(a, results)


def write_docs(a, results):
    final = {w: [r["curve"][-1]["fid"] for r in results[w]] for w in results}
    mean = {w: statistics.mean(v) for w, v in final.items()}
    std = {w: (statistics.stdev(v) if len(v) > 1 else 0.0) for w, v in final.items()}
    target = mean["pytorch"]

    def time_to(run):
        for c in run["curve"]:
            if c["fid"] <= target:
                return c["train_s"], c["epoch"]
        return None, None

    img = os.path.join(a.docs, "img")
    os.makedirs(img, exist_ok=True)
    s0 = a.seeds[0]
    shutil.copy(os.path.join(results["dcgan"][0]["dir"], "samples", f"step_{a.epochs * STEPS_PER_EPOCH:07d}.png"),
                os.path.join(img, "results_dcgan.png"))
    pt_samples = os.path.join(results["pytorch"][0]["dir"], "samples")
    pt_last = sorted(os.listdir(pt_samples))[-1] if os.path.isdir(pt_samples) and os.listdir(pt_samples) else None
    if pt_last:
        shutil.copy(os.path.join(pt_samples, pt_last), os.path.join(img, "results_pytorch.png"))
    lines = [
        "# Results: does our fast training learn as well as PyTorch's?",
        "",
        f"The `seed` model (32x32x1) on Fashion-MNIST, {a.epochs} epochs, batch 64, Adam 2e-4 (0.5, 0.999), "
        f"trained by the PyTorch reference script and by `dcgan train`, seeds {', '.join(map(str, a.seeds))}. "
        f"FID: {a.n} generated images vs the 10000 test images, in the feature space of "
        "`models/fashion-mnist-classifier.safetensors` (docs/evaluation.md), computed by `dcgan eval` for both.",
        "",
        "Reproduce (about half an hour on 2 cores, on a quiet machine):",
        "",
        "```sh",
        f"/usr/bin/python3 tools/experiment_fid.py --epochs {a.epochs} --seeds {' '.join(map(str, a.seeds))} --n {a.n}",
        "```",
        "",
        "| trainer | final FID (mean ± std) | per seed | training time to reach PyTorch's mean final FID |",
        "|---|---|---|---|",
    ]
    for w, name in (("pytorch", "PyTorch 1.13 (tools/reference/train_pytorch.py)"), ("dcgan", "dcgan train")):
        reach = []
        for r in results[w]:
            t, e = time_to(r)
            reach.append("not reached" if t is None else f"{t:.0f} s (epoch {e})")
        lines.append(f"| {name} | {mean[w]:.2f} ± {std[w]:.2f} | {', '.join(f'{v:.2f}' for v in final[w])} | "
                     f"{'; '.join(reach)} |")
    lines += ["", "FID after each epoch (seed by seed):", "", "| trainer | seed | " +
              " | ".join(f"epoch {e}" for e in range(1, a.epochs + 1)) + " |",
              "|---|---|" + "---|" * a.epochs]
    for w in ("pytorch", "dcgan"):
        for r in results[w]:
            lines.append(f"| {w} | {r['seed']} | " + " | ".join(f"{c['fid']:.2f} ({c['train_s']:.0f} s)"
                                                                for c in r["curve"]) + " |")
    lines += ["", f"Fixed-noise grids after {a.epochs} epochs, seed {s0} (generator in eval mode):", "",
              "| dcgan | PyTorch |", "|---|---|",
              "| ![dcgan](img/results_dcgan.png) | " + ("![PyTorch](img/results_pytorch.png)" if pt_last else "(no PIL)") + " |",
              ""]
    with open(os.path.join(a.docs, "results.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
