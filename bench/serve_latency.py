#!/usr/bin/python3
"""Request latency of `dcgan serve` (docs/serving.md).

Starts `build/dcgan serve --checkpoint CKPT --port 0` (or uses a running server with --url), then
fires N requests of each kind over one keep-alive connection on loopback, one at a time, and
prints the median, 95th percentile and maximum per kind in milliseconds (client-side: from
sending the request to the last byte of the reply). Seeds vary per request, so no two requests of
a kind are the same. With --concurrent K it also runs K clients at once on the sample endpoint
and reports the same figures and the total throughput.

    /usr/bin/python3 bench/serve_latency.py --checkpoint runs/quickstart [-n 200] [--concurrent 8]
"""
import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KINDS = {
    "page": lambda i: "/",
    "info": lambda i: "/api/info",
    "sample": lambda i: f"/api/sample?seed={i}",
    "sample+shift": lambda i: f"/api/sample?seed={i}&shift=0:1.5,3:-2",
    "grid 16": lambda i: "/api/grid?seeds=" + ",".join(str(i * 16 + k) for k in range(16)),
    "grid 64": lambda i: "/api/grid?seeds=" + ",".join(str(i * 64 + k) for k in range(64)),
    "interpolate 8": lambda i: f"/api/interpolate?a={i}&b={i + 1}&steps=8",
    "arith": lambda i: f"/api/arith?a={i}&b={i + 1}&c={i + 2}",
    "sweep 8": lambda i: f"/api/sweep?seed={i}&dim=0&steps=8",
    "bad request": lambda i: f"/api/sample?seed=x{i}",
}


def timed_get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return (time.perf_counter() - t0) * 1000, r.status


def summary(ms):
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"median {statistics.median(ms):7.2f}  p95 {p95:7.2f}  max {ms[-1]:7.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="start build/dcgan serve on this checkpoint or run directory")
    ap.add_argument("--url", help="use a running server instead, e.g. http://127.0.0.1:8080")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=0, help="the server's --threads (0: all cores)")
    ap.add_argument("-n", type=int, default=200, help="requests per kind")
    ap.add_argument("--concurrent", type=int, default=0, help="also K clients at once on /api/sample")
    args = ap.parse_args()
    if bool(args.checkpoint) == bool(args.url):
        sys.exit("give --checkpoint CKPT or --url URL")

    proc = None
    url = args.url
    if args.checkpoint:
        proc = subprocess.Popen([os.path.join(args.build, "dcgan"), "serve", "--checkpoint", args.checkpoint,
                                 "--port", "0", "--threads", str(args.threads)],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        m = re.search(r"(http://[\d.]+:\d+)/", line)
        if not m:
            proc.kill()
            sys.exit(f"the server did not start: {line!r}")
        url = m.group(1)
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        print(f"{url}, {args.n} requests per kind, one at a time (ms):")
        for name, path in KINDS.items():
            timed_get(conn, path(10**6))  # warm-up
            ms, statuses = [], set()
            for i in range(args.n):
                t, status = timed_get(conn, path(i))
                ms.append(t)
                statuses.add(status)
            print(f"  {name:14s} {summary(ms)}   HTTP {sorted(statuses)}")
        if args.concurrent:
            results, lock = [], threading.Lock()

            def client(k):
                c = http.client.HTTPConnection(host, int(port), timeout=60)
                mine = [timed_get(c, f"/api/sample?seed={k * args.n + i}")[0] for i in range(args.n)]
                with lock:
                    results.extend(mine)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.concurrent)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            print(f"  sample, {args.concurrent} clients at once: {summary(results)}, "
                  f"{len(results) / wall:.0f} requests/s", flush=True)
    finally:
        if proc:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
