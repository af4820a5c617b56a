"""Projected step time and scaling efficiency of data-parallel training on N nodes
(docs/distributed.md), from a bench/distributed.py measurement.

    /usr/bin/python3 tools/scaling_model.py [runs/bench-dist/<stamp>/raw.json ...]
        (default: the newest; several files: their runs of a configuration merged)

The model, for a global batch of B images split over N nodes (strong scaling: the same training
whatever N is, which is what `mpirun -np N dcgan train` does):

    T(N)  = c * B / N  +  A(N)
    c     = compute seconds per image on one node: the measured `1 process x 2 threads` step time / B
            (a node = one machine like the one measured)
    A(N)  = the all-reduce of the gradients, not overlapped (an upper bound; the overlap measured on
            2 ranks hides part of it):
            ring all-reduce of S bytes in m messages:  2 (N - 1) / N * S / bw  +  2 (N - 1) * m * lat
    S     = 4 bytes x (G's + D's parameters)   (one all-reduce of each network per step)
    m     = number of buckets (src/dist/reducer.hpp: 1 MB each, whole layers), per step
    E(N)  = T(1) / (N T(N))
Networks: 10 Gbit/s Ethernet, bw 1.25 GB/s, lat 30 us per message step (TCP);
          100 Gbit/s (InfiniBand / RoCE), bw 12.5 GB/s, lat 3 us (RDMA).
--sync-bn adds, per step, one small all-reduce per BatchNorm layer and pass (33 for `seed`, 33
for `dcgan` 64), each about 2 log2(N) lat (latency-bound): printed separately.
Assumptions left out of the model: compute per image does not change as the per-node batch
shrinks (it does: small batches use the cores less well), and the nodes are equally fast (the
slowest sets the pace).
"""
import glob
import json
import math
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = [("10 Gbit/s", 1.25e9, 30e-6), ("100 Gbit/s", 12.5e9, 3e-6)]
BUCKET_BYTES = 1 << 20
BN_ALLREDUCES = {"seed32": 33, "dcgan64": 33}


def buckets(params: int) -> int:
    return max(1, math.ceil(4 * params / BUCKET_BYTES))


def load(paths):
    """The measurements of several bench/distributed.py runs, merged per model and configuration."""
    merged = {}
    for p in paths:
        raw = json.load(open(p))
        for key, r in raw["results"].items():
            m = merged.setdefault(key, {"label": r["label"], "runs": {}})
            for c, runs in r["runs"].items():
                m["runs"].setdefault(c, []).extend(runs)
    return raw, merged


def main():
    paths = sys.argv[1:]
    if not paths:
        paths = [max(glob.glob(os.path.join(REPO, "runs/bench-dist/*/raw.json")))]
    raw, results = load(paths)
    print(f"From {', '.join(os.path.relpath(p, REPO) for p in paths)} ({raw['cpu']}, commit {raw['commit']})\n")
    for key, r in results.items():
        batch = 64 if key == "seed32" else 128
        runs = r["runs"]
        med = {c: statistics.median(x["s_per_step"] for x in v) for c, v in runs.items()}
        gp, dp = next(x["params"] for v in runs.values() for x in v if x["params"])
        S = 4 * (gp + dp)
        m = buckets(gp) + buckets(dp)
        c = med["1p2t"] / batch
        print(f"### {r['label']}: S = {S / 1e6:.2f} MB in {m} messages per step; c = {1e3 * c:.2f} ms per image "
              f"per node\n")
        # Check against this machine: 2 ranks sharing 2 cores, each computing B/2 images on 1 thread.
        # The per-rank compute is taken from 1 process x 1 thread at batch B ("1p1t-half", the same at
        # B/2, is used instead when measured: small batches are less efficient per image).
        half = med["1p1t-half"] if "1p1t-half" in med else med["1p1t"] / 2
        what = "1 thread at B/2, measured" if "1p1t-half" in med else "half of 1 thread at B"
        wait_block = statistics.median(x["wait_ms"] for x in runs["2r-block"] if x["wait_ms"] is not None) / 1e3
        wait_ovl = statistics.median(x["wait_ms"] for x in runs["2r"] if x["wait_ms"] is not None) / 1e3
        print(f"Check on this machine (2 ranks x 1 thread), compute {1e3 * half:.1f} ms ({what}):")
        print(f"  no overlap: {1e3 * half:.1f} + {1e3 * wait_block:.1f} (blocking all-reduce, measured) = "
              f"{1e3 * (half + wait_block):.1f} ms predicted, {1e3 * med['2r-block']:.1f} ms measured "
              f"({100 * (med['2r-block'] / (half + wait_block) - 1):+.0f} %)")
        print(f"  overlap:    {1e3 * half:.1f} + {1e3 * wait_ovl:.1f} (wait left) = {1e3 * (half + wait_ovl):.1f} ms "
              f"predicted, {1e3 * med['2r']:.1f} ms measured ({100 * (med['2r'] / (half + wait_ovl) - 1):+.0f} %); "
              f"{100 * (1 - wait_ovl / wait_block) if wait_block > 0 else 0:.0f} % of the all-reduce wait hidden\n")
        print("| nodes | network | compute ms | all-reduce ms | step ms | efficiency | "
              "+ sync-BN ms |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for n in (2, 8, 32):
            for name, bw, lat in NETWORKS:
                comp = c * batch / n
                ar = 2 * (n - 1) / n * S / bw + 2 * (n - 1) * m * lat
                t = comp + ar
                eff = (c * batch) / (n * t)
                sync = BN_ALLREDUCES[key] * 2 * math.ceil(math.log2(n)) * lat
                print(f"| {n} | {name} | {1e3 * comp:.1f} | {1e3 * ar:.1f} | {1e3 * t:.1f} | {100 * eff:.0f} % | "
                      f"{1e3 * sync:.1f} |")
        print()


if __name__ == "__main__":
    main()
