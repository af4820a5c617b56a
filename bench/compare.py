"""Side-by-side performance comparison: dcgan (build/dcgan_bench, build/dcgan) vs PyTorch.

    /usr/bin/python3 bench/compare.py [--quick] [--build build] [--threads 2] [--rounds 3] [--isa avx2]

Builds nothing: build first with
    cmake -S . -B build -G Ninja && cmake --build build --target dcgan dcgan_bench

What it runs, each measurement in its own process (peak RSS per configuration), ours and
PyTorch's alternating (the order flips every round), repeated --rounds times; the table shows the
median over rounds of each run's median:
  - the GEMM ceiling in the same run: dcgan_bench gemm (square sgemm 512-2048, oneDNN and
    OpenBLAS, T threads; the best median rate), once per round;
  - training, fixed random in-memory data: seed 32x32x1 batch 64, seed 64x64x3 batch 64,
    dcgan 64x64x3 batch 128 (dcgan_bench train vs bench/pytorch_bench.py train);
  - generation, eval-mode G forward: batch-1 latency and batch-256 throughput for seed 32x32x1
    and dcgan 64x64x3;
  - end to end on Fashion-MNIST (data loading included): `dcgan train` vs
    tools/reference/train_pytorch.py, seed 32x32x1 batch 64, as the MARGINAL time per step
    (t(long) - t(short)) / (long - short) of whole-process wall times (the fastest of the rounds
    for each length), so start-up, data loading
    and the final checkpoint cancel out (skip with --no-e2e).
PyTorch runs with OMP_NUM_THREADS = T, OPENBLAS_NUM_THREADS = 1 and torch.set_num_threads(T), its
best setting on this machine (docs/performance.md).

FLOPs per image are 2 x multiply-adds of conv / convT / linear layers over the forward,
data-gradient and weight-gradient passes (bench/flops.hpp); both tools count them from their own
built models and this script checks that the counts agree.

Writes runs/bench/<date-time>/{table.md, raw.json} and copies the table to runs/bench/latest.md.
--quick: 1 round, a few steps each, short end-to-end runs (about 2 minutes on a quiet machine).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN_CONFIGS = [  # (key, label, args)
    ("train-seed32", "train `seed` 32×32×1, batch 64",
     ["--arch", "seed", "--img-size", "32", "--channels", "1", "--batch", "64"]),
    ("train-seed64", "train `seed` 64×64×3, batch 64",
     ["--arch", "seed", "--img-size", "64", "--channels", "3", "--batch", "64"]),
    ("train-dcgan64", "train `dcgan` 64×64×3, batch 128",
     ["--arch", "dcgan", "--img-size", "64", "--channels", "3", "--batch", "128"]),
]
GEN_CONFIGS = [
    ("gen-seed32-b1", "generate `seed` 32×32×1, batch 1",
     ["--arch", "seed", "--img-size", "32", "--channels", "1", "--batch", "1"]),
    ("gen-seed32-b256", "generate `seed` 32×32×1, batch 256",
     ["--arch", "seed", "--img-size", "32", "--channels", "1", "--batch", "256"]),
    ("gen-dcgan64-b1", "generate `dcgan` 64×64×3, batch 1",
     ["--arch", "dcgan", "--img-size", "64", "--channels", "3", "--batch", "1"]),
    ("gen-dcgan64-b256", "generate `dcgan` 64×64×3, batch 256",
     ["--arch", "dcgan", "--img-size", "64", "--channels", "3", "--batch", "256"]),
]


def settings(quick: bool) -> dict:
    """Iteration counts and time budgets (--max-seconds stops a run's timed loop early, after at
    least min_steps (default 3) timed iterations)."""
    if quick:
        return {"rounds": 1,
                "train": {"warmup": 1, "steps": 5, "max_seconds": 2.0, "min_steps": 2},
                "gen_b1": {"warmup": 5, "steps": 50, "max_seconds": 1.0},
                "gen_b256": {"warmup": 1, "steps": 5, "max_seconds": 2.0},
                "gemm": ["--sizes", "512,1024,2048", "--min-time", "0.2"],
                "e2e": {"short": 20, "long": 60, "rounds": 1}}
    return {"rounds": 3,
            "train": {"warmup": 3, "steps": 20, "max_seconds": 8.0},
            "gen_b1": {"warmup": 10, "steps": 200, "max_seconds": 3.0},
            "gen_b256": {"warmup": 2, "steps": 10, "max_seconds": 5.0},
            "gemm": ["--sizes", "512,1024,1536,2048", "--min-time", "0.4"],
            "e2e": {"short": 50, "long": 450, "rounds": 3}}


def loop_args(s: dict) -> list:
    return (["--warmup", str(s["warmup"]), "--steps", str(s["steps"]), "--max-seconds", str(s["max_seconds"])]
            + (["--min-steps", str(s["min_steps"])] if "min_steps" in s else []))


# --isa avx2: both sides as on an AVX2-only CPU (the machine kind the performance targets were set
# for): oneDNN's kernels (ours and PyTorch's, which links the same libdnnl) capped at AVX2,
# OpenBLAS's at Haswell, PyTorch's own kernels at AVX2 (its default in Debian's build anyway).
# Our own code is always built for AVX2 (-march=haswell).
ISA_ENV = {
    "native": {},
    "avx2": {"DNNL_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"},
}


class Runner:
    def __init__(self, threads: int, timeout: float, verbose: bool, isa: str = "native"):
        self.threads = threads
        self.timeout = timeout
        self.verbose = verbose
        base = dict(os.environ)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", *ISA_ENV["avx2"]):
            base.pop(k, None)
        base.update(ISA_ENV[isa])
        self.env_ours = dict(base, OMP_NUM_THREADS=str(threads))
        # PyTorch's best setting: OpenMP threads = T, OpenBLAS single-threaded inside them.
        self.env_torch = dict(base, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
        self.failures = []

    def run(self, cmd: list, torch_side: bool) -> tuple:
        """Runs cmd; returns (returncode, stdout, stderr, wall seconds)."""
        if self.verbose:
            print("  $ " + " ".join(cmd), file=sys.stderr)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=REPO, env=self.env_torch if torch_side else self.env_ours,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=self.timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = -1, e.stdout or "", f"timed out after {self.timeout} s"
            if isinstance(out, bytes):
                out = out.decode(errors="replace")
        wall = time.perf_counter() - t0
        if rc != 0:
            msg = f"FAILED ({rc}): {' '.join(cmd)}\n{err.strip()[-2000:]}"
            print(msg, file=sys.stderr)
            self.failures.append(msg)
        return rc, out, err, wall

    def json_run(self, cmd: list, torch_side: bool):
        rc, out, err, wall = self.run(cmd, torch_side)
        if rc != 0:
            return None
        try:
            j = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.failures.append(f"no JSON from {' '.join(cmd)}: {out[-500:]!r}")
            return None
        j["wall_s"] = wall
        return j


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec=".0f", none="–"):
    return none if v is None else format(v, spec)


def machine_info() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                                     capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               text=True, capture_output=True).stdout.strip()
        if dirty:
            info["git"] += " (with uncommitted changes)"
    except OSError:
        pass
    # (torch is NOT imported here: a child process inherits its parent's ru_maxrss on Linux, and
    # this driver must stay small; the version comes from pytorch_bench's output.)
    return info


def e2e(runner: Runner, a, build_dir: str, out_dir: str, cfg: dict) -> dict:
    """Marginal time per step of whole `dcgan train` / train_pytorch.py processes."""
    dcgan = os.path.join(build_dir, "dcgan")
    res = {"ours": {}, "pytorch": {}, "short": cfg["short"], "long": cfg["long"]}
    work = os.path.join(out_dir, "e2e")
    os.makedirs(work, exist_ok=True)
    for r in range(cfg["rounds"]):
        for steps in (cfg["short"], cfg["long"]):
            order = ("ours", "pytorch") if (r + (steps == cfg["long"])) % 2 == 0 else ("pytorch", "ours")
            for side in order:
                d = os.path.join(work, f"{side}-{steps}-r{r}")
                shutil.rmtree(d, ignore_errors=True)
                if side == "ours":
                    cmd = [dcgan, "train", "--data", "fashion-mnist", "--steps", str(steps),
                           "--batch-size", "64", "--out", d, "--quiet", "--threads", str(a.threads),
                           "--seed", "0", "--sample-every", "0", "--checkpoint-every", "0"]
                else:
                    cmd = [a.python, os.path.join(REPO, "tools", "reference", "train_pytorch.py"),
                           "--steps", str(steps), "--batch-size", "64", "--out", d, "--quiet",
                           "--threads", str(a.threads), "--seed", "0", "--sample-every", "0",
                           "--checkpoint-every", "0"]
                print(f"[e2e] {side} {steps} steps (round {r + 1})", file=sys.stderr)
                rc, _, _, wall = runner.run(cmd, torch_side=(side == "pytorch"))
                res[side].setdefault(str(steps), []).append(wall if rc == 0 else None)
                if not a.keep_runs:
                    shutil.rmtree(d, ignore_errors=True)
    # The marginal time uses each length's FASTEST round: another process on the machine can only
    # add time to a run, never take it away, so the minimum is the least disturbed estimate (the
    # same rule for both sides; the median-based figure is kept in the raw JSON too).
    def fastest(v):
        v = [x for x in v if x is not None]
        return min(v) if v else None

    for side in ("ours", "pytorch"):
        runs_s, runs_l = res[side].get(str(cfg["short"]), []), res[side].get(str(cfg["long"]), [])
        ms, ml = med(runs_s), med(runs_l)
        if ms is not None and ml is not None:
            res[side]["marginal_ms_per_step_median"] = (ml - ms) * 1e3 / (cfg["long"] - cfg["short"])
        ts, tl = fastest(runs_s), fastest(runs_l)
        if ts is None or tl is None:
            continue
        marginal_ms = (tl - ts) * 1e3 / (cfg["long"] - cfg["short"])
        res[side]["marginal_ms_per_step"] = marginal_ms
        res[side]["img_per_s"] = 64e3 / marginal_ms if marginal_ms > 0 else None
        res[side]["startup_s"] = ts - cfg["short"] * marginal_ms / 1e3  # the intercept
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round, few steps (about 2 minutes)")
    ap.add_argument("--build", default="build", help="build directory holding dcgan_bench and dcgan")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python with PyTorch")
    ap.add_argument("--out", default=os.path.join(REPO, "runs", "bench"), help="results folder")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end Fashion-MNIST runs")
    ap.add_argument("--no-generate", action="store_true", help="skip the generation measurements")
    ap.add_argument("--keep-runs", action="store_true", help="keep the end-to-end run directories")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed per process")
    ap.add_argument("--isa", choices=sorted(ISA_ENV), default="native",
                    help="native: every library picks its best kernels (AVX-512 where the CPU has it); "
                         "avx2: both sides limited to AVX2, as on an AVX2-only machine")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every command")
    a = ap.parse_args()

    build_dir = a.build if os.path.isabs(a.build) else (
        os.path.abspath(a.build) if os.path.isdir(a.build) else os.path.join(REPO, a.build))
    bench = os.path.join(build_dir, "dcgan_bench")
    need = [bench] + ([] if a.no_e2e else [os.path.join(build_dir, "dcgan")])
    missing = [p for p in need if not os.access(p, os.X_OK)]
    if missing:
        print(f"error: not built: {', '.join(missing)}\nHINT: cmake -S {REPO} -B {build_dir} -G Ninja && "
              f"cmake --build {build_dir} --target dcgan dcgan_bench", file=sys.stderr)
        return 2
    s = settings(a.quick)
    rounds = a.rounds or s["rounds"]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(a.out, stamp + ("-quick" if a.quick else ""))
    os.makedirs(out_dir, exist_ok=True)
    runner = Runner(a.threads, a.timeout, a.verbose, a.isa)
    pybench = [a.python, os.path.join(REPO, "bench", "pytorch_bench.py")]
    T = ["--threads", str(a.threads)]
    t_begin = time.time()
    load_begin = os.getloadavg()

    configs = [(k, lbl, "train", args, s["train"]) for k, lbl, args in TRAIN_CONFIGS]
    if not a.no_generate:
        configs += [(k, lbl, "generate", args, s["gen_b1"] if k.endswith("-b1") else s["gen_b256"])
                    for k, lbl, args in GEN_CONFIGS]
    raw = {"command": " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
           "machine": machine_info(), "settings": s, "rounds": rounds, "threads": a.threads,
           "isa": a.isa, "isa_env": ISA_ENV[a.isa],
           "gemm": [], "runs": {k: {"ours": [], "pytorch": []} for k, *_ in configs}}

    for r in range(rounds):
        print(f"[round {r + 1}/{rounds}] GEMM ceiling", file=sys.stderr)
        g = runner.json_run([bench, "gemm"] + T + s["gemm"], torch_side=False)
        raw["gemm"].append(g)
        for i, (key, label, mode, args, ls) in enumerate(configs):
            order = ("ours", "pytorch") if (r + i) % 2 == 0 else ("pytorch", "ours")
            for side in order:
                print(f"[round {r + 1}/{rounds}] {label}: {side}", file=sys.stderr)
                cmd = ([bench, mode] if side == "ours" else pybench + [mode]) + args + T + loop_args(ls)
                raw["runs"][key][side].append(runner.json_run(cmd, torch_side=(side == "pytorch")))
    if not a.no_e2e:
        raw["e2e"] = e2e(runner, a, build_dir, out_dir, s["e2e"])
    load_end = os.getloadavg()
    raw["load_average_begin_end"] = [load_begin, load_end]
    raw["elapsed_s"] = time.time() - t_begin

    # ---- summary
    ceiling = med([g["best_gflops"] for g in raw["gemm"] if g])
    best_lib = next((f"{g['best_lib']}, n = {g['best_n']}" for g in raw["gemm"] if g), "")
    rows, summary = [], {}
    for key, label, mode, args, _ in configs:
        runs = raw["runs"][key]
        row = {}
        for side in ("ours", "pytorch"):
            ok = [j for j in runs[side] if j]
            # The median over rounds of each run's median time; img/s and GFLOP/s follow from it.
            ms = med([j["median_ms"] for j in ok])
            flop = ok[0]["flop_per_image"] if ok else None
            ips = ok[0]["batch"] * 1e3 / ms if ms else None
            row[side] = {"img_per_s": ips, "gflops": flop * ips / 1e9 if ips else None,
                         "median_ms": ms, "peak_rss_mb": med([j["peak_rss_mb"] for j in ok]),
                         "flop_per_image": flop, "rounds_ok": len(ok)}
        fo, fp = row["ours"]["flop_per_image"], row["pytorch"]["flop_per_image"]
        if fo and fp and abs(fo - fp) > 1e-9 * max(fo, fp):
            runner.failures.append(f"{key}: FLOP counts differ: dcgan_bench {fo} vs pytorch_bench {fp}")
        io, ip = row["ours"]["img_per_s"], row["pytorch"]["img_per_s"]
        row["ratio"] = io / ip if io and ip else None
        summary[key] = row
        pct = lambda gf: gf / ceiling * 100 if gf and ceiling else None  # noqa: E731
        if mode == "generate" and key.endswith("-b1"):
            lat_o, lat_p = row["ours"]["median_ms"], row["pytorch"]["median_ms"]
            label = f"{label} (latency ours {fmt(lat_o, '.2f')} ms, PyTorch {fmt(lat_p, '.2f')} ms)"
        rows.append(f"| {label} | {fmt(io)} | {fmt(ip)} | {fmt(row['ratio'], '.2f')}× | "
                    f"{fmt(row['ours']['gflops'], '.1f')} | {fmt(pct(row['ours']['gflops']), '.0f')} % | "
                    f"{fmt(pct(row['pytorch']['gflops']), '.0f')} % | "
                    f"{fmt(row['ours']['peak_rss_mb'])} / {fmt(row['pytorch']['peak_rss_mb'])} |")
    raw["summary"] = {"gemm_ceiling_gflops": ceiling, "configs": summary}

    mi = raw["machine"]
    mi["torch"] = next((j["torch_version"] for v in raw["runs"].values() for j in v["pytorch"] if j), "?")
    lines = [
        f"# dcgan vs PyTorch, {a.threads} threads ({'quick' if a.quick else 'full'} run, {rounds} round(s))",
        "",
        f"- command: `/usr/bin/python3 {raw['command']}` (build: `{os.path.relpath(build_dir, REPO)}`)",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}, elapsed {raw['elapsed_s']:.0f} s",
        f"- machine: {mi.get('cpu', '?')}, {mi.get('cpus')} CPUs, {mi['platform']}; load average "
        f"{load_begin[0]:.2f} at the start, {load_end[0]:.2f} at the end",
        f"- dcgan commit {mi.get('git', '?')}; PyTorch {mi.get('torch')} with OMP_NUM_THREADS={a.threads}, "
        f"OPENBLAS_NUM_THREADS=1, torch.set_num_threads({a.threads})",
        "- kernels: " + ("native, each library picks its best for this CPU" if a.isa == "native" else
                         "AVX2 only, both sides (" + ", ".join(f"{k}={v}" for k, v in ISA_ENV[a.isa].items()) + ")"),
        f"- GEMM ceiling ({a.threads} threads, square sgemm, best median of oneDNN / OpenBLAS): "
        f"**{fmt(ceiling, '.1f')} GFLOP/s** ({best_lib})",
        "- img/s: batch / (median over rounds of each run's median step time); GFLOP/s from the nominal FLOPs per image "
        "(2 × multiply-adds, forward + data-gradient + weight-gradient passes, bench/flops.hpp)",
        "",
        "| configuration | ours img/s | PyTorch img/s | ratio | ours GFLOP/s | ours % of GEMM ceiling "
        "| PyTorch % of ceiling | peak RSS ours / PyTorch (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ] + rows
    if "e2e" in raw:
        e = raw["e2e"]
        o, p = e["ours"], e["pytorch"]
        ratio = (o.get("img_per_s") / p.get("img_per_s")) if o.get("img_per_s") and p.get("img_per_s") else None
        lines += [
            "",
            f"End to end, Fashion-MNIST, `seed` 32×32×1, batch 64, data loading included: marginal time per "
            f"step = (t({e['long']} steps) − t({e['short']} steps)) / {e['long'] - e['short']}, whole-process "
            f"wall times, the fastest of {s['e2e']['rounds']} round(s) for each length (other processes only add "
            f"time). With medians instead: ours {fmt(o.get('marginal_ms_per_step_median'), '.1f')} ms, PyTorch "
            f"{fmt(p.get('marginal_ms_per_step_median'), '.1f')} ms per step.",
            "",
            "| run | ours ms/step | PyTorch ms/step | ours img/s | PyTorch img/s | ratio | start-up ours / PyTorch (s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| `dcgan train` vs `tools/reference/train_pytorch.py` | {fmt(o.get('marginal_ms_per_step'), '.1f')} | "
            f"{fmt(p.get('marginal_ms_per_step'), '.1f')} | {fmt(o.get('img_per_s'))} | {fmt(p.get('img_per_s'))} | "
            f"{fmt(ratio, '.2f')}× | {fmt(o.get('startup_s'), '.1f')} / {fmt(p.get('startup_s'), '.1f')} |",
        ]
    if runner.failures:
        lines += ["", "Failures:", ""] + [f"- {f.splitlines()[0]}" for f in runner.failures]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(out_dir, "raw.json"), "w") as f:
        json.dump(raw, f, indent=1)
    shutil.copyfile(os.path.join(out_dir, "table.md"), os.path.join(a.out, "latest.md"))
    print(table)
    print(f"written: {os.path.relpath(out_dir, os.getcwd())}/table.md, raw.json "
          f"(and {os.path.relpath(os.path.join(a.out, 'latest.md'), os.getcwd())})", file=sys.stderr)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
