"""Where one training step's time goes: oneDNN's own per-primitive timings, summed per step.

    /usr/bin/python3 bench/profile_step.py [--build build] [--steps 20] [dcgan_bench train options...]
    e.g. /usr/bin/python3 bench/profile_step.py --arch dcgan --img-size 64 --channels 3 --batch 128 --steps 5

Runs `dcgan_bench train` once with ONEDNN_VERBOSE=1 (oneDNN then times every primitive it
executes and prints one line per call), groups the calls by kind (convolution / deconvolution
pass, reorder) and shape, and prints a table of milliseconds per step, calls per step and
GFLOP/s per convolution pass (2 x multiply-adds of the nominal shape, padded taps included).
Everything oneDNN does not run (BatchNorm, activations, Linear layers, Adam, the losses) is the
gap between the step's median time and the oneDNN total.

Verbose mode adds a little time to every call (a timer and a printf), so the per-primitive
figures are slightly pessimistic; the step time it reports is from the same verbose run.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def conv_flops(prim: str, desc: str) -> float:
    """2 x multiply-adds of one pass from oneDNN's problem descriptor
    (mb64_ic16oc32_ih16oh8kh4sh2dh0ph1_iw16ow8kw4...). Every pass of a layer (forward, data
    gradient, weight gradient) does the same work: N * IC * OC * kh * kw * the smaller map (a
    convolution's output, a deconvolution's input)."""
    v = dict((k, int(n)) for k, n in re.findall(r"([a-z]+)(\d+)", desc))
    small = v["ih"] * v["iw"] if prim == "deconvolution" else v["oh"] * v["ow"]
    return 2.0 * v["mb"] * v["ic"] * v["oc"] * v["kh"] * v["kw"] * small


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a, rest = ap.parse_known_args()
    cmd = [os.path.join(a.build, "dcgan_bench"), "train", "--steps", str(a.steps), "--warmup",
           str(a.warmup)] + rest
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    calls = [l.split(",") for l in p.stdout.splitlines() + p.stderr.splitlines()
             if l.startswith("onednn_verbose,exec,")]
    report = json.loads(next(l for l in p.stdout.splitlines() if l.startswith("{")))
    # Every step makes the same calls: drop the warm-up steps' share (first calls create buffers
    # and touch memory for the first time, up to 100x slower), keep the timed steps'.
    calls = calls[len(calls) * a.warmup // (a.steps + a.warmup):]
    steps = a.steps
    agg = collections.defaultdict(lambda: [0, 0.0])
    for c in calls:
        # onednn_verbose,exec,cpu,<primitive>,<impl>,<prop_kind>,<mds>,<attrs>,<aux>,<problem>,<ms>
        prim, impl, prop, problem, ms = c[3], c[4], c[5], c[-2], float(c[-1])
        key = (prim, prop if prim != "reorder" else "", problem, impl)
        agg[key][0] += 1
        agg[key][1] += ms
    total = sum(v[1] for v in agg.values()) / steps
    print(f"`{' '.join(os.path.relpath(x, REPO) if x.startswith(REPO) else x for x in cmd)}` with ONEDNN_VERBOSE=1")
    print(f"step median {report['median_ms']:.2f} ms (verbose run); oneDNN primitives {total:.2f} ms per step; "
          f"everything else {report['median_ms'] - total:.2f} ms\n")
    print("| primitive | pass | shape | kernel | ms / step | calls / step | GFLOP/s |")
    print("|---|---|---|---|---:|---:|---:|")
    for (prim, prop, problem, impl), (n, ms) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
        per_step = ms / steps
        if per_step < 0.005:
            continue
        gf = f"{conv_flops(prim, problem) * n / (ms * 1e-3) / 1e9:.0f}" if prim.endswith("convolution") else ""
        print(f"| {prim} | {prop} | {problem} | {impl} | {per_step:.3f} | {n / steps:.1f} | {gf} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
