#!/usr/bin/env python3
"""API benchmark: GET /health against a bare Hummingbird server, authenticated GET /api/v1/auth/me against /health,
and the rate limiter's cost, in one run.

Builds the release binary as it would ship (static Swift runtime) and the framework's ceiling, a minimal Hummingbird 2
server with one hello route (its own package, bench/hello), starts both on 127.0.0.1 (Switchboard on a fresh SQLite
data directory, the access log on at `info` as shipped), and prints:
  * start-up time: process launch to the first 200 from /health
  * idle RSS after start-up
  * for the hello route, /health and /me: requests/s, p50, p99 (wrk, 2 threads, 64 connections)
  * peak RSS over the whole run
  * /health relative to hello (target: 0.60 or more) and /me relative to /health (target: 0.80 or more)
  * /me with the per-user rate limiter on (a rate so high nothing is refused: every request pays for the check) and
    off, on SQLite and on PostgreSQL (a throwaway cluster, when PostgreSQL is installed): the limiter's cost
    (target: under 10% on SQLite), for one user (the worst case: every request updates the same limiter row) and for
    --users users taking turns (the usual case)
Each route is measured --runs times, alternating, and the median run is reported: single runs on a 2-core machine
that also runs wrk vary by 15% or more.

Usage: bench/api.py [--duration 10] [--connections 64] [--threads 2] [--runs 3] [--engines sqlite,postgres] [--users 64]
       [--no-build] [--smoke]
Needs wrk (apt-get install wrk). Everything runs on 127.0.0.1; the servers, clusters and data are removed afterwards.
"""
import argparse, os, shutil, subprocess, sys, time

from common import (ROOT, PostgresCluster, Server, add_common_arguments, add_load_arguments, free_port, http, median,
                    postgres_installed, prepare, wrk)

# Signing up many users is not what is measured: cheap password hashing, and no cap on signups from 127.0.0.1.
SETUP = ["--auth-bcrypt-cost", "4", "--auth-rate-limit-max-signups", "100000"]
LIMITED = SETUP + ["--tiers-free-requests-per-minute", "1000000"]  # the most allowed: nothing is refused
UNLIMITED = SETUP + ["--rate-limit-enabled", "false"]


def measure_limiter(env, args, users):
    """/me with the limiter on and off, as one user (every request on one limiter row) or as `users` users in turn.
    Both servers run side by side and the runs alternate between them (on, off, then off, on, ...), so the machine's
    drift falls on both alike; each run's on/off ratio is kept."""
    servers = {"on": Server(LIMITED, env), "off": Server(UNLIMITED, env)}
    try:
        tokens = {}
        for name, server in servers.items():
            signed = [server.signup(f"bench-{time.time_ns()}-{n}@example.com") for n in range(users)]
            tokens[name] = signed if users > 1 else signed[0]
            wrk(server.base + "/api/v1/auth/me", argparse.Namespace(**{**vars(args), "duration": 2}), tokens[name])  # warm-up
        runs = {"on": [], "off": []}
        for run in range(args.runs):
            for name in (("on", "off") if run % 2 == 0 else ("off", "on")):
                runs[name].append(wrk(servers[name].base + "/api/v1/auth/me", args, tokens[name]))
        return runs["on"], runs["off"]
    finally:
        for server in servers.values():
            server.stop()


def build_hello(smoke):
    """The framework's ceiling: bench/hello, a bare Hummingbird 2 server, built like Switchboard (release, or debug for a
    smoke run). Returns the binary's path."""
    package = os.path.join(ROOT, "bench", "hello")
    configuration = "debug" if smoke else "release"
    build = ["swift", "build", "-c", configuration, "--package-path", package]
    if not smoke:
        build.append("--static-swift-stdlib")
    subprocess.run(build, check=True, stdout=subprocess.DEVNULL if smoke else None)
    return os.path.join(package, ".build", configuration, "hello")


class Hello:
    """The hello server `binary` started on a free port; `launcher` goes before it on the command line (valgrind)."""

    def __init__(self, binary, launcher=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([*launcher, binary, str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                if http("GET", self.base + "/hello")[0] == 200:
                    break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    sys.exit("the hello server did not start")
                time.sleep(0.01)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=64, help="users taking turns in the many-users limiter runs")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.runs, args.users = 1, 1, 4
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    prepare(args)

    hello = Hello(build_hello(args.smoke))
    server = Server(LIMITED)
    try:
        startup_ms = server.startup_ms
        time.sleep(1)
        idle_rss = server.rss_mib() * 1024
        idle_anon = server.rss_mib("RssAnon") * 1024
        base = server.base
        token = server.signup()
        assert http("GET", base + "/api/v1/auth/me", token=token)[0] == 200

        warm = argparse.Namespace(**{**vars(args), "duration": 2 if not args.smoke else 1})
        wrk(base + "/health", warm)  # warm-up
        wrk(hello.base + "/hello", warm)
        runs = []
        for _ in range(args.runs):
            runs.append((wrk(hello.base + "/hello", args), wrk(base + "/health", args), wrk(base + "/api/v1/auth/me", args, token)))
        peak_rss = server.rss_mib("VmHWM") * 1024
    finally:
        server.stop()
        hello.stop()

    limiter = []
    for engine in args.engines.split(","):
        if engine == "sqlite":
            for label, users in (("SQLite, 1 user", 1), (f"SQLite, {args.users} users", args.users)):
                limiter.append((label, *measure_limiter({}, args, users)))
        elif engine == "postgres":
            if not postgres_installed():
                continue
            cluster = PostgresCluster()
            try:
                env = {"DATABASE_URL": cluster.url}
                for label, users in (("PostgreSQL, 1 user", 1), (f"PostgreSQL, {args.users} users", args.users)):
                    limiter.append((label, *measure_limiter(env, args, users)))
            finally:
                cluster.stop()

    build = "debug build (smoke run: the figures mean nothing)" if args.smoke else "release build"
    print(f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s per route and run; {build}")
    health_ratios = [health["rps"] / ceiling["rps"] for ceiling, health, _ in runs]
    me_ratios = [me["rps"] / health["rps"] for _, health, me in runs]
    ceiling, health, me = sorted(runs, key=lambda run: run[1]["rps"] / run[0]["rps"])[len(runs) // 2]
    print(f"{'route (SQLite, median run)':<30}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, result in (("GET /hello (bare Hummingbird)", ceiling), ("GET /health", health), ("GET /api/v1/auth/me", me)):
        print(f"{name:<30}{result['rps']:>12.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}{result['errors']:>10}")
    print(f"/health relative to bare Hummingbird: median {sorted(health_ratios)[len(runs) // 2]:.2f}, runs "
          + ", ".join(f"{r:.2f}" for r in health_ratios) + " (target >= 0.60)")
    print(f"/me relative to /health: median {sorted(me_ratios)[len(runs) // 2]:.2f}, runs "
          + ", ".join(f"{r:.2f}" for r in me_ratios) + " (target >= 0.80)")
    print(f"start-up to first 200: {startup_ms:.0f} ms (target < 300)")
    print(f"idle RSS: {idle_rss / 1024:.1f} MiB (target < 40), of which {idle_anon / 1024:.1f} MiB anonymous (the rest are clean,"
          f" shared pages of the binary's code); peak RSS: {peak_rss / 1024:.1f} MiB")
    print()
    print(f"{'GET /api/v1/auth/me (median)':<30}{'limiter on':>12}{'off':>12}{'on/off':>10}{'cost':>8}{'p99 on':>10}{'p99 off':>10}"
          "  on/off by run")
    for name, on, off in limiter:
        a, b = median(on), median(off)
        ratios = [x["rps"] / y["rps"] for x, y in zip(on, off)]
        ratio = sorted(ratios)[len(ratios) // 2]
        print(f"{name:<30}{a['rps']:>12.0f}{b['rps']:>12.0f}{ratio:>10.2f}{(1 - ratio) * 100:>7.1f}%"
              f"{a['p99']:>10.2f}{b['p99']:>10.2f}  " + ", ".join(f"{r:.2f}" for r in ratios))
    print("(target: the limiter costs under 10% on SQLite)")
    errors = [r for run in runs for r in run if r["errors"]] + [r for _, on, off in limiter for r in on + off if r["errors"]]
    if errors:
        sys.exit("some responses were not 2xx: the figures are not valid")


if __name__ == "__main__":
    main()
