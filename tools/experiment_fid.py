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
PRESET_MARK = "<!-- preset section: tools/experiment_preset.py -->"
EVAL_EVERY = STEPS_PER_EPOCH // 4  # FID curve points: every quarter epoch (234 steps), and the end


def eval_steps(epochs):
    """Steps at which both runs are scored: every EVAL_EVERY steps, and the last step."""
    last = epochs * STEPS_PER_EPOCH
    steps = list(range(EVAL_EVERY, last, EVAL_EVERY))
    return steps + [last]


def checkpoint_meta(path):
    """The __metadata__ of a safetensors file (its JSON header)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def cpu_name():
    """The CPU model and its widest vector ISA, as the docs quote it (figures differ by machine)."""
    model, flags = "unknown CPU", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line
    except OSError:
        pass
    isa = "AVX-512" if " avx512f" in flags else ("AVX2, no AVX-512" if " avx2" in flags else "no AVX2")
    return f"{model} ({isa}), {os.cpu_count()} cores"


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


def metrics_of(dcgan, ckpt, n, out_json):
    # --data: PyTorch's checkpoints do not record their training data, and eval guesses none.
    run([dcgan, "eval", "--checkpoint", ckpt, "--data", "fashion-mnist", "-n", str(n), "--json", out_json, "--quiet",
         "--threads", "2"], stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--n", type=int, default=10000, help="generated images per FID")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "experiment"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--docs-only", action="store_true",
                    help="rewrite docs/results.md from OUT/results.json without training again")
    a = ap.parse_args()
    if a.docs_only:
        with open(os.path.join(a.out, "results.json")) as f:
            write_docs(a, json.load(f))
        return
    dcgan = os.path.join(a.build, "dcgan")
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1")
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    results = {"pytorch": [], "dcgan": [], "commit": head.stdout.strip() + (" (with local changes)" if dirty else ""),
               "seeds": a.seeds, "epochs": a.epochs, "n": a.n, "cpu": cpu_name()}
    started = time.time()
    for seed in a.seeds:
        # PyTorch reference run, a checkpoint at every epoch end.
        pt = os.path.join(a.out, f"pytorch_seed{seed}")
        shutil.rmtree(pt, ignore_errors=True)
        run(["/usr/bin/python3", os.path.join(ROOT, "tools/reference/train_pytorch.py"), "--out", pt,
             "--epochs", str(a.epochs), "--seed", str(seed), "--threads", "2", "--quiet",
             "--checkpoint-every", str(EVAL_EVERY), "--sample-every", "0"], env=env)
        with open(os.path.join(pt, "timing.json")) as f:
            step_ms = json.load(f)["step_ms"]
        # Ours, same recipe.
        us = os.path.join(a.out, f"dcgan_seed{seed}")
        shutil.rmtree(us, ignore_errors=True)
        # One fixed-noise grid, at the last step (step_NNNNNNN.png), as PyTorch's script writes it.
        run([dcgan, "train", "--out", us, "--epochs", str(a.epochs), "--seed", str(seed), "--threads", "2",
             "--quiet", "--checkpoint-every", str(EVAL_EVERY), "--keep", "1000",
             "--sample-every", str(a.epochs * STEPS_PER_EPOCH)], env=env)
        for who, d in (("pytorch", pt), ("dcgan", us)):
            curve = []
            for step in eval_steps(a.epochs):
                ckpt = os.path.join(d, "checkpoints", f"step_{step:07d}.safetensors")
                if not os.path.exists(ckpt):  # PyTorch's script names its final checkpoint latest
                    ckpt = os.path.join(d, "checkpoints", "latest.safetensors")
                m = metrics_of(dcgan, ckpt, a.n, os.path.join(d, f"eval_step{step:07d}.json"))
                # Training wall time up to this step. PyTorch: the sum of its per-step times
                # (checkpoint writing excluded); ours: the elapsed_s the trainer stores in each
                # checkpoint (checkpoint and sample writing included; start-up excluded for both).
                t = sum(step_ms[:step]) / 1e3 if who == "pytorch" else float(checkpoint_meta(ckpt)["elapsed_s"])
                curve.append({"epoch": step / STEPS_PER_EPOCH, "step": step, "fid": m["fid"], "train_s": t,
                              "kid": m["kid_mean"], "precision": m["precision"], "recall": m["recall"]})
            per_step = (statistics.median(step_ms) if who == "pytorch" else
                        float(checkpoint_meta(os.path.join(d, "checkpoints", "latest.safetensors"))["elapsed_s"])
                        / (a.epochs * STEPS_PER_EPOCH) * 1e3)
            results[who].append({"seed": seed, "curve": curve, "dir": d, "step_ms": per_step})
            print(f"{who} seed {seed}: " + ", ".join(f"e{c['epoch']:.2f} FID {c['fid']:.2f} @ {c['train_s']:.0f}s"
                                                      for c in curve), file=sys.stderr, flush=True)
    results["wall_s"] = time.time() - started
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_docs(a, results)


def compare(final):
    """The difference of the final FIDs, tested: Welch's t-test (unequal variances), its 95 %
    confidence interval, and the exact Mann-Whitney U test (no normality assumed)."""
    from scipy import stats as st
    x = [c["fid"] for c in final["dcgan"]]
    y = [c["fid"] for c in final["pytorch"]]
    out = {"diff": statistics.mean(x) - statistics.mean(y)}
    if len(x) < 2 or len(y) < 2:
        out["sentence"] = "Too few seeds for a test of the difference."
        return out
    t = st.ttest_ind(x, y, equal_var=False)
    vx, vy = statistics.variance(x) / len(x), statistics.variance(y) / len(y)
    se = (vx + vy) ** 0.5
    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    half = st.t.ppf(0.975, dof) * se
    u = st.mannwhitneyu(x, y, alternative="two-sided", method="exact")
    out.update(p_welch=float(t.pvalue), p_mw=float(u.pvalue), lo=out["diff"] - half, hi=out["diff"] + half)
    sig = t.pvalue < 0.05 and u.pvalue < 0.05
    direction = "lower (better)" if out["diff"] < 0 else "higher (worse)"
    out["sentence"] = (
        f"The difference (ours minus PyTorch's) is {out['diff']:+.2f}, 95 % confidence interval "
        f"[{out['lo']:+.2f}, {out['hi']:+.2f}] (Welch's t-test p = {t.pvalue:.2f}; Mann-Whitney U p = {u.pvalue:.2f}). " +
        (f"Ours is {direction}, significantly at the 5 % level by both tests." if sig else
         "That is not a significant difference at the 5 % level: these runs show neither trainer "
         "learning better than the other (nor prove them equal; more seeds would narrow the interval)."))
    return out


def write_docs(a, results):
    # What was run comes from the results (a --docs-only rewrite need not repeat the arguments).
    a = argparse.Namespace(**{**vars(a), **{k: results[k] for k in ("seeds", "epochs", "n") if k in results}})
    def stats(v):
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

    final = {w: [r["curve"][-1] for r in results[w]] for w in ("pytorch", "dcgan")}
    target = stats([c["fid"] for c in final["pytorch"]])[0]

    def time_to(run):
        for c in run["curve"]:
            if c["fid"] <= target:
                return c
        return None

    img = os.path.join(a.docs, "img")
    os.makedirs(img, exist_ok=True)
    s0 = a.seeds[0]
    last = a.epochs * STEPS_PER_EPOCH
    shutil.copy(os.path.join(results["dcgan"][0]["dir"], "samples", f"step_{last:07d}.png"),
                os.path.join(img, "results_dcgan.png"))
    pt_png = os.path.join(results["pytorch"][0]["dir"], "samples", f"step_{last:07d}.png")
    if os.path.exists(pt_png):
        shutil.copy(pt_png, os.path.join(img, "results_pytorch.png"))
    git = results.get("commit", "unknown")
    cpu = results.get("cpu", "an unrecorded CPU")
    per_seed_min = (f"{results['wall_s'] / 60 / len(a.seeds):.0f} minutes per seed (training and scoring both), "
                    if "wall_s" in results else "")
    seeds = " ".join(map(str, a.seeds))
    lines = [
        "# Results: does our fast training learn as well as PyTorch's?",
        "",
        f"The `seed` model (32×32×1) on Fashion-MNIST, {a.epochs} epochs ({last} steps), batch 64, Adam 2e-4 "
        f"(0.5, 0.999), DCGAN initialisation, trained by the PyTorch reference script "
        f"(`tools/reference/train_pytorch.py`, PyTorch 1.13) and by `dcgan train`, seeds {', '.join(map(str, a.seeds))}, "
        "2 threads each, one run at a time. Every run is scored by `dcgan eval` on its checkpoints: "
        f"{a.n} generated images against the 10000 test images, in the feature space of "
        "`models/fashion-mnist-classifier.safetensors` (see [evaluation.md](evaluation.md)); the same "
        "evaluator, sample count and latents for both.",
        "",
        f"Produced by (code at commit `{git}`, on {cpu}; {per_seed_min}nothing else running):",
        "",
        "```sh",
        f"/usr/bin/python3 tools/experiment_fid.py --epochs {a.epochs} --seeds {seeds} --n {a.n}",
        "```",
        "",
        "## Final quality and time",
        "",
        f"After {a.epochs} epochs (mean ± standard deviation over the seeds):",
        "",
        "| trainer | FID | per seed | KID | precision | recall | training time per step |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"pytorch": "PyTorch 1.13 (`train_pytorch.py`)", "dcgan": "`dcgan train`"}
    for w in ("pytorch", "dcgan"):
        f, fs = stats([c["fid"] for c in final[w]])
        k, ks = stats([c["kid"] for c in final[w]])
        p, ps = stats([c["precision"] for c in final[w]])
        r, rs = stats([c["recall"] for c in final[w]])
        ms = statistics.median([x["step_ms"] for x in results[w]])
        per_seed = ", ".join("%.2f" % c["fid"] for c in final[w])
        lines.append(f"| {names[w]} | **{f:.2f} ± {fs:.2f}** | {per_seed} | "
                     f"{k:.3f} ± {ks:.3f} | {p:.3f} ± {ps:.3f} | {r:.3f} ± {rs:.3f} | {ms:.1f} ms |")
    lines += [
        "",
        f"Time to reach PyTorch's mean final FID ({target:.2f}): the training wall time at the first "
        f"checkpoint (one every {EVAL_EVERY} steps, a quarter epoch) whose FID is at or below it. PyTorch's "
        "time is the sum of its per-step times; ours is the `elapsed_s` our trainer records in each "
        "checkpoint (checkpoint writing included). Start-up and data loading before the first step are "
        "excluded for both.",
        "",
        "| trainer | seed | reached at | training time |",
        "|---|---|---|---|",
    ]
    for w in ("pytorch", "dcgan"):
        for r in results[w]:
            c = time_to(r)
            lines.append(f"| {names[w]} | {r['seed']} | " +
                         ("not reached" if c is None else f"step {c['step']} (epoch {c['epoch']:.2f}) | {c['train_s']:.1f} s") +
                         (" | — |" if c is None else " |"))
    fm = {w: stats([c["fid"] for c in final[w]]) for w in final}
    reach = {w: [time_to(r) for r in results[w]] for w in ("pytorch", "dcgan")}
    t_reach = {w: [c["train_s"] for c in reach[w] if c] for w in reach}
    test = compare(final)
    jumps = [abs(q["fid"] - p["fid"]) for w in ("pytorch", "dcgan") for r in results[w]
             for p, q in zip(r["curve"], r["curve"][1:]) if p["epoch"] >= 1] or [0.0]
    lines += [
        "",
        "**Verdict.** " +
        (f"Our mean final FID is {fm['dcgan'][0]:.2f} ± {fm['dcgan'][1]:.2f}, PyTorch's {fm['pytorch'][0]:.2f} ± "
         f"{fm['pytorch'][1]:.2f} (n = {len(final['dcgan'])} and {len(final['pytorch'])} seeds). " + test["sentence"] +
         " ") +
        (f"Runs that reached PyTorch's mean final FID took {min(t_reach['dcgan']):.0f}–{max(t_reach['dcgan']):.0f} s "
         f"of training with `dcgan train` ({len(t_reach['dcgan'])} of {len(reach['dcgan'])} seeds) and "
         f"{min(t_reach['pytorch']):.0f}–{max(t_reach['pytorch']):.0f} s with PyTorch "
         f"({len(t_reach['pytorch'])} of {len(reach['pytorch'])} seeds)."
         if t_reach["dcgan"] and t_reach["pytorch"] else "Not every trainer reached the target; see the table."),
        "",
        "How to read these numbers:",
        "",
        "- A GAN's FID does not fall steadily: after the first epoch it moves by a median of "
        f"{statistics.median(jumps):.1f} (at most {max(jumps):.1f}) from one quarter-epoch checkpoint to the next, "
        "as G and D chase each other (every point is in `runs/experiment/results.json`). The final FID of one run is "
        "therefore a noisy sample; the seeds give its spread, and the time to reach a target is the "
        "first crossing, which can be early by luck. The two trainers do not draw the same random numbers "
        "(PyTorch's generator vs ours), so seed k of one is not seed k of the other: only the distributions "
        "compare.",
    ]
    if all(c["recall"] == 0 for w in final for c in final[w]):
        lines.append(
            "- Recall is 0 for every generator of both trainers: no real test image lies inside the k-NN "
            "balls of the generated features. The small `seed` model (width 16) after these epochs covers little "
            "of the real variety in this feature space (see [evaluation.md](evaluation.md#figures)); "
            "real-vs-real gives 0.86, so the metric itself can be high.")
    lines += [
        "- Per-step times include everything in the training loop (data, both updates) and for ours also "
        f"the checkpoint written every {EVAL_EVERY} steps; both were measured on a shared machine ({cpu}) "
        "whose speed varies by ±20 % over minutes, so they are indicative; [performance.md](performance.md) "
        "has the controlled side-by-side timing.",
    ]
    lines += ["", "## FID during training", "",
              "FID at about each epoch end (training seconds in brackets):", "",
              "| trainer | seed | " + " | ".join(f"epoch {e}" for e in range(1, a.epochs + 1)) + " |",
              "|---|---|" + "---|" * a.epochs]
    for w in ("pytorch", "dcgan"):
        for r in results[w]:
            pts = [c for c in r["curve"] if c["step"] % (4 * EVAL_EVERY) == 0][: a.epochs - 1] + [r["curve"][-1]]
            lines.append(f"| {names[w]} | {r['seed']} | " +
                         " | ".join(f"{c['fid']:.2f} ({c['train_s']:.0f} s)" for c in pts) + " |")
    lines += ["", f"(Epoch k < {a.epochs} is scored at step {4 * EVAL_EVERY}·k, one step before the epoch's "
              "end; the last column is the final step.) Every point of every run is in "
              "`runs/experiment/results.json`.", "",
              f"## Samples", "",
              f"Fixed-noise grids after {a.epochs} epochs, seed {s0} (generator in eval mode):", "",
              "| `dcgan train` | PyTorch |", "|---|---|",
              "| ![dcgan](img/results_dcgan.png) | " +
              ("![PyTorch](img/results_pytorch.png)" if os.path.exists(pt_png) else "(no PIL: no grid)") + " |",
              ""]
    # The quality preset's section (tools/experiment_preset.py) follows this one; kept as it is.
    path = os.path.join(a.docs, "results.md")
    tail = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if PRESET_MARK in old:
            tail = "\n" + old[old.index(PRESET_MARK):]
    with open(path, "w") as f:
        f.write("\n".join(lines) + tail)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
