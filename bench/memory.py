#!/usr/bin/env python3
"""Exact vector search, measured: `switchboard memory bench` on the release build.

Usage: bench/memory.py [--vectors 100000] [--dimensions 384] [--searches 200] [--users 1000] [--per-user 1000]
                       [--no-build] [--binary PATH] [--smoke]

Top-10 by cosine over one user's 100,000 x 384 float32 vectors on one core: the float32 pass's p50 and p99, and its
bandwidth (bytes scanned / time) as a ratio of a plain memory copy measured in the same run, the ceiling; then the
search as served (an int8 pass, float32 re-scoring of its best candidates): p50, p99 and recall@10 against the
float32 pass. Then 1,000 users of 1,000 vectors each, searches spread over them: p50, p99 and the process's RSS.
Targets: p50 under 10 ms, 0.60 of the copy bandwidth; with the int8 pass under 4 ms at recall@10 1.0.
"""
import argparse, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_arguments(parser)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--per-user", type=int, default=1_000)
    args = parser.parse_args()
    if args.smoke:
        args.vectors, args.searches, args.users, args.per_user = 5_000, 10, 10, 100
    common.prepare(args)
    build = "debug build (smoke run: the figures mean nothing)" if args.smoke else "release build"
    print(f"memory search, {build}")
    sys.stdout.flush()
    # One core: the search is single-threaded, and pinning keeps the scheduler from moving it mid-measure.
    command = ["taskset", "-c", "0"] if subprocess.run(["which", "taskset"], capture_output=True).returncode == 0 else []
    command += [common.BINARY, "memory", "bench", "--vectors", str(args.vectors), "--dimensions", str(args.dimensions),
                "--searches", str(args.searches), "--users", str(args.users), "--per-user", str(args.per_user)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
