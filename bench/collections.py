#!/usr/bin/env python3
"""Collection benchmark: a blueprint collection of --records records of one user, served by the release build, with
a filtered and sorted list of 20 on an indexed field, a get by id and a create measured against GET /api/v1/auth/me
in the same run.

Starts Switchboard with bench/blueprint (a `tasks` collection with an index on (status, priority)) on a fresh
SQLite data directory, and on a throwaway PostgreSQL cluster when PostgreSQL is installed; fills the table with SQL
(filling it through the API would measure the fill, not the reads), then prints for each engine:
  * requests/s, p50 and p99 of /me, the filtered list, the get and the create (wrk, 2 threads, 64 connections; the
    median slice)
  * each as a ratio to /me (targets: the filtered list at 0.50 or more; creates at 0.30 or more on SQLite)
The reads are loaded in turn in one-second slices, --duration x --runs rounds, their order turned round from one
round to the next, then the create in turn with a /me of its own, and each ratio is the median of its rounds' ratios,
printed with its quartiles, as bench/api.py measures: this machine's speed changes by a third from one few-second
phase to the next, and one route after the other gave the same binary ratios a third apart. Creates come after the
reads because every write moves the version a list's total is remembered under: a list loaded after a slice of
creates would measure its 64 connections all counting the grown table again.

Usage: bench/collections.py [--records 100000] [--duration 10] [--runs 3] [--connections 64] [--threads 2]
       [--engines sqlite,postgres] [--no-build] [--smoke]
Needs wrk. Everything runs on 127.0.0.1; the servers, clusters and data are removed afterwards.
"""
import argparse, json, os, shutil, sqlite3, subprocess, sys, uuid

from common import (ROOT, SLICE, PostgresCluster, Server, add_common_arguments, add_load_arguments, http, interleaved, median,
                    postgres_installed, prepare, ratio_line, rounds, wrk)

BLUEPRINT = os.path.join(ROOT, "bench", "blueprint")
FLAGS = ["--blueprint", BLUEPRINT, "--tiers-free-requests-per-minute", "1000000", "--auth-bcrypt-cost", "4"]
FILTER = "filter=status%20%3D%20%27open%27%20%26%26%20priority%20%3E%3D%203&sort=-priority&per_page=20"


def fill(engine, server, owner, count, postgres_url=None):
    """`count` records of `owner`, written straight into the collection's table, committed before measuring."""
    columns = "id, owner_id, created_at, updated_at, search_folded, title, status, priority, estimate, tags"
    rows = [(str(uuid.uuid4()), owner, 1_700_000_000_000 + n, 1_700_000_000_000 + n, f"task {n}", f"Task {n}",
             ("open", "doing", "done")[n % 3], 1 + n % 5, (n % 40) / 4, json.dumps(["bench"])) for n in range(count)]
    if engine == "sqlite":
        database = sqlite3.connect(os.path.join(server.workdir, "data", "switchboard.sqlite"), timeout=30)
        database.executemany(f"INSERT INTO app_bench_tasks ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        database.commit()
        database.close()
    else:
        copy = "\n".join("\t".join(str(value) for value in row) for row in rows) + "\n\\.\n"
        subprocess.run(["psql", postgres_url.split("?")[0], "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"COPY app_bench_tasks ({columns}) FROM STDIN"], input=copy, text=True, check=True)
        # What autovacuum does to a table in use: statistics, and the visibility map that index-only scans need.
        subprocess.run(["psql", postgres_url.split("?")[0], "-q", "-c", "VACUUM ANALYZE app_bench_tasks"], check=True)


def measure(engine, args, env, postgres_url=None):
    server = Server(FLAGS, env)
    try:
        token = server.signup()
        _, me = http("GET", server.base + "/api/v1/auth/me", token=token)
        fill(engine, server, me["id"], args.records, postgres_url)
        status, page = http("GET", f"{server.base}/api/v1/tasks?{FILTER}", token=token)
        assert status == 200 and len(page["items"]) == 20 and page["total"] > 0, page
        record = page["items"][0]["id"]
        create = ("wrk.method = \"POST\"\nwrk.body = '{\"title\": \"Benchmark task\", \"priority\": 4, \"tags\": [\"bench\"]}'\n"
                  "wrk.headers[\"Content-Type\"] = \"application/json\"\n")
        routes = [("GET /api/v1/auth/me", server.base + "/api/v1/auth/me", None),
                  ("GET /tasks?filter&sort (20)", f"{server.base}/api/v1/tasks?{FILTER}", None),
                  ("GET /tasks/{id}", f"{server.base}/api/v1/tasks/{record}", None),
                  ("POST /tasks", server.base + "/api/v1/tasks", create)]
        warm = argparse.Namespace(**{**vars(args), "duration": 1})
        for _, url, lua in routes:
            wrk(url, warm, token, lua)
        # Creates go with a /me of their own, after the reads: every write moves the version that a list's total is
        # remembered under, and 64 connections counting a growing table at once after each slice of creates would
        # measure that recount, not the list.
        me, lists, gets = interleaved([(url, token, lua) for _, url, lua in routes[:3]], args)
        me_beside_creates, creates = interleaved([(url, token, lua) for _, url, lua in (routes[0], routes[3])], args)
        return [(name, slices, base) for (name, _, _), slices, base in zip(
            routes, [me, lists, gets, creates], [me, me, me, me_beside_creates])]
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    add_load_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.runs, args.records = 1, 1, 1000
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    prepare(args)

    results = []
    for engine in args.engines.split(","):
        if engine == "sqlite":
            results.append(("SQLite", measure("sqlite", args, {})))
        elif engine == "postgres":
            if not postgres_installed():
                continue
            cluster = PostgresCluster()
            try:
                results.append(("PostgreSQL", measure("postgres", args, {"DATABASE_URL": cluster.url}, cluster.url)))
            finally:
                cluster.stop()

    build = "debug build (smoke run: the figures mean nothing)" if args.smoke else "release build"
    measured = len(results[0][1][0][1]) if results else 0  # rounds: the first engine's /me slices
    print(f"{args.records} records of one user; wrk: {args.threads} threads, {args.connections} connections, "
          f"{rounds(measured)} of a {SLICE} s slice per route; {build}")
    failed = False
    for engine, rows in results:
        print(f"{engine + ' (median slice)':<30}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
        for name, slices, me in rows:
            failed |= any(s["errors"] for s in slices + me)
            print(f"  {name:<28}{median(slices)['rps']:>12.0f}{median(slices, 'p50')['p50']:>10.2f}"
                  f"{median(slices, 'p99')['p99']:>10.2f}{sum(s['errors'] for s in slices):>10}")
        targets = {"GET /tasks?filter&sort (20)": "target >= 0.50", "POST /tasks": "target >= 0.30" if engine == "SQLite" else "no target"}
        for name, slices, me in rows[1:]:
            print("  " + ratio_line(f"{name} ÷ /me", slices, me, targets.get(name, "no target")))
    if failed:
        sys.exit("some responses were not 2xx: the figures are not valid")


if __name__ == "__main__":
    main()
