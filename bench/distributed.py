"""Data-parallel training on one machine: 2 ranks x 1 thread against 1 process x 2 threads.

    /usr/bin/python3 bench/distributed.py [--build build] [--rounds 3] [--quick]

For each model (`seed` 32x32x1 batch 64 and `dcgan` 64x64x3 batch 128, both on Fashion-MNIST, so
the global batch and the data order are the same in every configuration) it runs `dcgan train`:
  1p x 2t    one process, 2 threads                         (what a plain `dcgan train` does)
  1p x 1t    one process, 1 thread                          (compute time per image on one core)
  1p x 1t /2 one process, 1 thread, half the batch          (what each of 2 ranks computes)
  2r         mpirun -np 2, 1 thread each, per-rank BatchNorm, gradients all-reduced during backward
  2r sync    the same with --sync-bn (BatchNorm statistics all-reduced in every pass)
  2r block   the same as 2r with DCGAN_DIST_OVERLAP=0 (one blocking all-reduce after backward)
configurations interleaved, the order rotating every round, repeated --rounds times. Time per step
is the MARGINAL time read from metrics.jsonl, (elapsed(last) - elapsed(first logged)) / steps
between them, so start-up, data loading and the final checkpoint do not count. Rank 0's line
"waiting for gradients took X ms per step" is the all-reduce time not hidden behind backward.

Writes runs/bench-dist/<date-time>/{table.md, raw.json} and runs/bench-dist/latest.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = [  # key, label, args, steps, first logged step used
    ("seed32", "`seed` 32×32×1, batch 64",
     ["--arch", "seed", "--img-size", "32", "--channels", "1", "--batch-size", "64"], 80, 20),
    ("dcgan64", "`dcgan` 64×64×3, batch 128",
     ["--arch", "dcgan", "--img-size", "64", "--channels", "3", "--batch-size", "128"], 24, 6),
]
CONFIGS = [  # key, label, ranks, threads, extra args, env
    ("1p2t", "1 process × 2 threads", 1, 2, [], {}),
    ("1p1t", "1 process × 1 thread", 1, 1, [], {}),
    ("1p1t-half", "1 process × 1 thread, half the batch", 1, 1, ["--half-batch"], {}),
    ("2r", "2 ranks × 1 thread", 2, 1, [], {}),
    ("2r-sync", "2 ranks × 1 thread, --sync-bn", 2, 1, ["--sync-bn"], {}),
    ("2r-block", "2 ranks × 1 thread, no overlap", 2, 1, [], {"DCGAN_DIST_OVERLAP": "0"}),
]


def run_one(build, model, cfg, steps, first, log_every, out):
    _, _, margs, _, _ = model
    _, _, ranks, threads, extra, env_extra = cfg
    if "--half-batch" in extra:  # the per-rank share of a 2-rank run, in one process
        i = margs.index("--batch-size")
        margs = margs[:i + 1] + [str(int(margs[i + 1]) // 2)] + margs[i + 2:]
        extra = [e for e in extra if e != "--half-batch"]
    cmd = [os.path.join(build, "dcgan"), "train", "--data", "fashion-mnist", *margs, "--steps", str(steps),
           "--threads", str(threads), "--log-every", str(log_every), "--sample-every", "0",
           "--checkpoint-every", "0", "--keep", "0", "--seed", "1", "--out", out, *extra]
    if ranks > 1:
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks),
               *sum((["-x", k] for k in env_extra), []), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env_extra)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    at = {r["step"]: r["elapsed_s"] for r in rows}
    if first not in at or steps not in at:
        sys.exit(f"metrics.jsonl of {out} lacks steps {first} and {steps}: {sorted(at)}")
    per_step = (at[steps] - at[first]) / (steps - first)
    m = re.search(r"waiting for gradients took ([0-9.]+) ms per step", p.stderr)
    params = re.search(r"G (\d+) params, D (\d+) params", p.stderr)
    return {"s_per_step": per_step, "wait_ms": float(m.group(1)) if m else None,
            "params": [int(params.group(1)), int(params.group(2))] if params else None}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 round, fewer steps")
    ap.add_argument("--configs", default=",".join(c[0] for c in CONFIGS),
                    help="comma-separated subset of: " + ", ".join(c[0] for c in CONFIGS) + " (1p2t always runs)")
    a = ap.parse_args()
    rounds = 1 if a.quick else a.rounds
    wanted = set(a.configs.split(",")) | {"1p2t"}  # the reference of every ratio, always measured
    configs = [c for c in CONFIGS if c[0] in wanted]
    if len(configs) != len(wanted):
        sys.exit(f"--configs {a.configs}: each must be one of {', '.join(c[0] for c in CONFIGS)}")
    raw = {"cpu": cpu_model(), "nproc": os.cpu_count(), "rounds": rounds,
           "commit": subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip(), "results": {}}
    tmp = tempfile.mkdtemp(prefix="dcgan-bench-dist-")
    for model in MODELS:
        key, label, _, steps, first = model
        if a.quick:
            first = max(first // 2, 1)
            steps = 3 * first
        log_every = first
        res = {c[0]: [] for c in configs}
        for r in range(rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for cfg in order:
                out = os.path.join(tmp, f"{key}-{cfg[0]}-{r}")
                res[cfg[0]].append(run_one(a.build, model, cfg, steps, first, log_every, out))
                shutil.rmtree(out, ignore_errors=True)
                print(f"{key} {cfg[0]} round {r + 1}: {res[cfg[0]][-1]}", flush=True)
        raw["results"][key] = {"label": label, "steps": steps, "first": first, "runs": res}
    shutil.rmtree(tmp, ignore_errors=True)

    lines = [f"Machine: {raw['cpu']}, {raw['nproc']} cores; commit {raw['commit']}; "
             f"{rounds} rounds, medians; command: `/usr/bin/python3 bench/distributed.py`", ""]
    for key, r in raw["results"].items():
        batch = 64 if key == "seed32" else 128
        med = {c: statistics.median(x["s_per_step"] for x in runs) for c, runs in r["runs"].items()}
        spread = {c: (min(x["s_per_step"] for x in runs), max(x["s_per_step"] for x in runs))
                  for c, runs in r["runs"].items()}
        params = next(x["params"] for runs in r["runs"].values() for x in runs if x["params"])
        lines += [f"### {r['label']} ({sum(params):,} parameters: {4 * sum(params) / 1e6:.2f} MB of gradients "
                  "all-reduced per step)", "",
                  "| configuration | ms per step (median) | min–max | img/s | vs 1 process × 2 threads | "
                  "gradient wait, ms per step |",
                  "|---|---:|---:|---:|---:|---:|"]
        for c, clabel, *_ in configs:
            waits = [x["wait_ms"] for x in r["runs"][c] if x["wait_ms"] is not None]
            wait = f"{statistics.median(waits):.1f}" if waits else "—"
            images = batch // 2 if c == "1p1t-half" else batch
            lines.append(f"| {clabel} | {1e3 * med[c]:.1f} | {1e3 * spread[c][0]:.1f}–{1e3 * spread[c][1]:.1f} | "
                         f"{images / med[c]:.0f} | {med['1p2t'] / med[c]:.2f}× | {wait} |")
        lines.append("")
    table = "\n".join(lines)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(REPO, "runs", "bench-dist", stamp)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out_dir, "raw.json"), "w") as f:
        json.dump(raw, f, indent=1)
    shutil.copy(os.path.join(out_dir, "table.md"), os.path.join(REPO, "runs", "bench-dist", "latest.md"))
    print(table)


if __name__ == "__main__":
    main()
