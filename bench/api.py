#!/usr/bin/env python3
"""API benchmark: GET /health against a bare Hummingbird server, authenticated GET /api/v1/auth/me against /health,
and the rate limiter's cost, in one run.

Builds the release binary as it would ship (static Swift runtime) and the framework's ceiling, a minimal Hummingbird 2
server with one hello route (its own package, bench/hello), starts both on 127.0.0.1 (Switchboard on a fresh SQLite
data directory, the access log on at `info` as shipped), and prints:
  * start-up time: process launch to the first 200 from /health
  * idle RSS after start-up
  * for the hello route, /health and /me: requests/s, p50, p99 (wrk, 2 threads, 64 connections; the median slice)
  * peak RSS over the whole run
  * /health relative to hello (target: 0.60 or more) and /me relative to /health (target: 0.80 or more)
  * /me with the per-user rate limiter on (a rate so high nothing is refused: every request pays for the check) and
    off, on SQLite and on PostgreSQL (a throwaway cluster, when PostgreSQL is installed): the limiter's cost
    (target: under 10% on SQLite), for one user (the worst case: every request updates the same limiter row) and for
    --users users taking turns (the usual case)
Routes compared are loaded in turn in one-second slices, --duration x --runs slices each, their order turned round
from one round of slices to the next (hello, /health, /me, then /me, /health, hello), and each ratio is the median of
its rounds' ratios, printed with its quartiles. This machine's speed changes by a third from one few-second phase to
the next: with three runs of 8 s, one route after the other, a run's /me ÷ /health was anywhere from 0.59 to 1.04;
over rounds of one-second slices, the rounds' ratios gather around one value, and the phases that fall between two
slices of a round are outliers the median leaves out.

Usage: bench/api.py [--duration 10] [--connections 64] [--threads 2] [--runs 3] [--engines sqlite,postgres] [--users 64]
       [--no-build] [--smoke]
Needs wrk (apt-get install wrk). Everything runs on 127.0.0.1; the servers, clusters and data are removed afterwards.
"""
import argparse, os, shutil, subprocess, sys, time

from common import (ROOT, SLICE, PostgresCluster, Server, add_common_arguments, add_load_arguments, free_port, http,
                    interleaved, median, postgres_installed, prepare, quartiles, ratio_line, rounds, wrk)

# Signing up many users is not what is measured: cheap password hashing, and no cap on signups from 127.0.0.1.
SETUP = ["--auth-bcrypt-cost", "4", "--auth-rate-limit-max-signups", "100000"]
LIMITED = SETUP + ["--tiers-free-requests-per-minute", "1000000"]  # the most allowed: nothing is refused
UNLIMITED = SETUP + ["--rate-limit-enabled", "false"]


def measure_limiter(env, args, users):
    """/me with the limiter on and off, as one user (every request on one limiter row) or as `users` users in turn.
    Both servers run side by side and are loaded in turn (`interleaved`); each round's on/off ratio is kept."""
    servers = {"on": Server(LIMITED, env), "off": Server(UNLIMITED, env)}
    try:
        tokens = {}
        for name, server in servers.items():
            signed = [server.signup(f"bench-{time.time_ns()}-{n}@example.com") for n in range(users)]
            tokens[name] = signed if users > 1 else signed[0]
            wrk(server.base + "/api/v1/auth/me", argparse.Namespace(**{**vars(args), "duration": 2}), tokens[name])  # warm-up
        return interleaved([(servers[name].base + "/api/v1/auth/me", tokens[name]) for name in ("on", "off")], args)
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
        ceilings, healths, mes = interleaved([(hello.base + "/hello", None), (base + "/health", None),
                                              (base + "/api/v1/auth/me", token)], args)
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
    print(f"wrk: {args.threads} threads, {args.connections} connections, {rounds(len(healths))} of a {SLICE} s slice per route; {build}")
    print(f"{'route (SQLite, median slice)':<30}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, slices in (("GET /hello (bare Hummingbird)", ceilings), ("GET /health", healths), ("GET /api/v1/auth/me", mes)):
        print(f"{name:<30}{median(slices)['rps']:>12.0f}{median(slices, 'p50')['p50']:>10.2f}{median(slices, 'p99')['p99']:>10.2f}"
              f"{sum(s['errors'] for s in slices):>10}")
    print(ratio_line("/health relative to bare Hummingbird", healths, ceilings, "target >= 0.60"))
    print(ratio_line("/me relative to /health", mes, healths, "target >= 0.80"))
    print(f"start-up to first 200: {startup_ms:.0f} ms (target < 300)")
    print(f"idle RSS: {idle_rss / 1024:.1f} MiB (target < 40), of which {idle_anon / 1024:.1f} MiB anonymous (the rest are clean,"
          f" shared pages of the binary's code); peak RSS: {peak_rss / 1024:.1f} MiB")
    print()
    print(f"{'GET /api/v1/auth/me (median)':<30}{'limiter on':>12}{'off':>12}{'on/off':>10}{'cost':>8}{'p99 on':>10}{'p99 off':>10}"
          "  on/off quartiles")
    for name, on, off in limiter:
        low, ratio, high = quartiles([x["rps"] / y["rps"] for x, y in zip(on, off)])
        print(f"{name:<30}{median(on)['rps']:>12.0f}{median(off)['rps']:>12.0f}{ratio:>10.2f}{(1 - ratio) * 100:>7.1f}%"
              f"{median(on, 'p99')['p99']:>10.2f}{median(off, 'p99')['p99']:>10.2f}  {low:.2f} to {high:.2f}")
    print("(target: the limiter costs under 10% on SQLite)")
    errors = [r for r in ceilings + healths + mes if r["errors"]] + [r for _, on, off in limiter for r in on + off if r["errors"]]
    if errors:
        sys.exit("some responses were not 2xx: the figures are not valid")


if __name__ == "__main__":
    main()
