#!/usr/bin/env python3
"""API benchmark: authenticated GET /api/v1/auth/me against GET /health, measured in the same run.

Builds the release binary as it would ship (static Swift runtime), starts it on a fresh SQLite data directory, and
prints:
  * start-up time: process launch to the first 200 from /health
  * idle RSS after start-up
  * for /health (the framework's ceiling) and for /me: requests/s, p50, p99 (wrk, 2 threads, 64 connections)
  * peak RSS over the whole run
  * the ratio of /me to /health throughput (target: 0.60 or more)
Each route is measured --runs times, alternating, and the median run is reported: single runs on a 2-core machine
that also runs wrk vary by 15% or more.

Usage: bench/api.py [--duration 10] [--connections 64] [--threads 2] [--runs 3] [--no-build]
Needs wrk (apt-get install wrk). Everything runs on 127.0.0.1; the server and its data are removed afterwards.
"""
import argparse, re, shutil, subprocess, sys, time

from common import Server, build_release, http


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, args, token=None):
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if not args.no_build:
        build_release()

    server = Server()
    try:
        startup_ms = server.startup_ms
        time.sleep(1)
        idle_rss = server.rss_mib() * 1024
        idle_anon = server.rss_mib("RssAnon") * 1024
        base = server.base
        token = server.signup()
        assert http("GET", base + "/api/v1/auth/me", token=token)[0] == 200

        wrk(base + "/health", argparse.Namespace(**{**vars(args), "duration": 2}))  # warm-up
        runs = []
        for _ in range(args.runs):
            runs.append((wrk(base + "/health", args), wrk(base + "/api/v1/auth/me", args, token)))
        peak_rss = server.rss_mib("VmHWM") * 1024
    finally:
        server.stop()

    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s per route and run; SQLite; release build")
    ratios = [me["rps"] / health["rps"] for health, me in runs]
    health, me = sorted(runs, key=lambda run: run[1]["rps"] / run[0]["rps"])[len(runs) // 2]
    print(f"{'route (median run)':<22}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, result in (("GET /health", health), ("GET /api/v1/auth/me", me)):
        print(f"{name:<22}{result['rps']:>12.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}{result['errors']:>10}")
    print(f"/me throughput relative to /health: median {sorted(ratios)[len(ratios) // 2]:.2f}, runs "
          + ", ".join(f"{r:.2f}" for r in ratios) + " (target >= 0.60)")
    print(f"start-up to first 200: {startup_ms:.0f} ms (target < 300)")
    print(f"idle RSS: {idle_rss / 1024:.1f} MiB (target < 40), of which {idle_anon / 1024:.1f} MiB anonymous (the rest are clean,"
          f" shared pages of the binary's code); peak RSS: {peak_rss / 1024:.1f} MiB")
    if any(h["errors"] or m["errors"] for h, m in runs):
        sys.exit("some responses were not 2xx: the figures are not valid")


if __name__ == "__main__":
    main()
