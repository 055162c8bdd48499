#!/usr/bin/env python3
"""Instructions a chat turn and a request cost: counts that this machine's noise does not move.

Rates and CPU times on a shared 2-core machine move by a quarter from one run to the next, more than most single
changes to the hot path gain or lose. This runs the release server under valgrind's callgrind (instrumentation off
while it starts and warms up), then counts the instructions the server executes for --turns streamed turns of each
kind, one at a time against the zero-latency fake model of bench/chat.py, and for --requests requests of GET /health
and of authenticated GET /api/v1/auth/me, one at a time on a keep-alive connection, and for as many GET /hello of
bench/api.py's bare Hummingbird server. It prints instructions a turn and a request, and the two ratios bench/api.py
measures in requests a second (/health against hello, /me against /health) in instructions. Two builds compared with
it differ by their code alone: `--binary` measures another build. Valgrind cannot load the debug build, so `--smoke`
makes the turns and requests without it and counts nothing.

Usage: bench/instructions.py [--turns 100] [--requests 2000] [--no-build] [--binary PATH] [--keep DIR]
"""
import argparse, asyncio, glob, os, shutil, subprocess, tempfile
from http.client import HTTPConnection

import common
from common import Server, add_common_arguments, http, prepare
from api import Hello, build_hello
from chat import LOAD_FLAGS, Connection, model_flags, start_fake, switchboard_turn



def callgrind(pid, *arguments):
    subprocess.run(["callgrind_control", *arguments, str(pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Counter:
    """Counts what `work()` costs the process `pid` (run under callgrind), divided by `units`; with `counting` off it
    only runs it. `--keep` copies each profile as callgrind.NAME."""

    def __init__(self, output, counting, keep):
        self.output, self.counting, self.keep = output, counting, keep

    def count(self, pid, name, units, work):
        if not self.counting:
            work()
            return None
        callgrind(pid, "-i", "on")
        callgrind(pid, "-z")
        work()
        callgrind(pid, "-d")
        callgrind(pid, "-i", "off")
        dumps = sorted(glob.glob(f"{self.output}/callgrind.*"), key=os.path.getmtime)
        with open(dumps[-1]) as dump:
            total = next(int(line.split()[1]) for line in dump if line.startswith(("summary:", "totals:")))
        if self.keep:
            os.makedirs(self.keep, exist_ok=True)
            shutil.copy(dumps[-1], os.path.join(self.keep, f"callgrind.{name}"))
        return total / units


def requests(port, path, count, token=None):
    """`count` GETs of `path` one after another on one keep-alive connection, each answered 200."""
    connection = HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        for _ in range(count):
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"GET {path} answered {response.status}")
    finally:
        connection.close()


def stripped(binary, output):
    """A copy of `binary` without its debug information: valgrind cannot read the DWARF 5 the toolchain writes, and
    the symbol table is all it needs."""
    copy = os.path.join(output, os.path.basename(binary))
    subprocess.run(["objcopy", "--strip-debug", binary, copy], check=True)
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="requests of each route counted")
    parser.add_argument("--keep", metavar="DIR", help="keep callgrind's profiles of the counted turns there (for callgrind_annotate)")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.turns < 1 or args.requests < 1:
        parser.error("--turns and --requests must be 1 or more")
    if args.smoke:
        args.turns, args.requests = 3, 20
    prepare(args)
    # Valgrind cannot load the debug build at all, so a smoke run makes its turns and requests without it, and counts nothing.
    counting = not args.smoke
    if counting and shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    output = tempfile.mkdtemp(prefix="switchboard-callgrind-")
    if counting:
        common.BINARY = stripped(common.BINARY, output)
    hello_binary = build_hello(args.smoke)
    if counting:
        hello_binary = stripped(hello_binary, output)
    counter = Counter(output, counting, args.keep)
    launcher = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={output}/callgrind.%p"] if counting else []

    fake, fake_port = start_fake()
    flags = model_flags(fake_port, ["bench", "plain"]) + LOAD_FLAGS
    counts = {}
    server = hello = None
    try:
        server = Server(flags, launcher=launcher)
        token = server.signup()
        conversation = http("POST", server.base + "/api/v1/conversations", {"title": "instructions"}, token)[1]["id"]

        async def turns(count, model):
            connection = Connection(server.port)
            await connection.open()
            try:
                for _ in range(count):
                    await switchboard_turn(connection, conversation, token, model)
            finally:
                connection.close()

        asyncio.run(turns(10, None))  # warm-up, not counted: pools, caches, prepared statements
        for kind, model in [("plain", "plain"), ("tool", None)]:
            counts[kind] = counter.count(server.process.pid, kind, args.turns, lambda: asyncio.run(turns(args.turns, model)))
        for name, path, bearer in [("health", "/health", None), ("me", "/api/v1/auth/me", token)]:
            requests(server.port, path, 200, bearer)  # warm-up
            counts[name] = counter.count(server.process.pid, name, args.requests, lambda: requests(server.port, path, args.requests, bearer))
        hello = Hello(hello_binary, launcher)
        requests(hello.port, "/hello", 200)
        counts["hello"] = counter.count(hello.process.pid, "hello", args.requests, lambda: requests(hello.port, "/hello", args.requests))
    finally:
        fake.terminate()
        fake.wait()
        if server:
            server.stop()
        if hello:
            hello.stop()
        shutil.rmtree(output, ignore_errors=True)

    if not counting:
        print(f"instructions: smoke run, {args.turns} turns of each kind and {args.requests} requests of each route made on the"
              " debug build without valgrind, nothing counted")
        return
    print(f"instructions a streamed turn, release build, SQLite, {args.turns} turns of each kind one at a time, the"
          " conversation's history growing")
    for kind in ("plain", "tool"):
        print(f"{kind:>6}  {counts[kind] / 1e6:8.2f} M")
    print(f"instructions a request, release builds, {args.requests} requests of each route one at a time on a keep-alive connection")
    for name, label in (("hello", "GET /hello (bare Hummingbird)"), ("health", "GET /health"), ("me", "GET /api/v1/auth/me")):
        print(f"{label:<30}{counts[name] / 1e3:8.1f} k")
    print(f"/health relative to bare Hummingbird, in instructions: {counts['hello'] / counts['health']:.2f} (bench/api.py's target"
          " in requests a second: >= 0.60)")
    print(f"/me relative to /health, in instructions: {counts['health'] / counts['me']:.2f} (bench/api.py's target: >= 0.80)")


if __name__ == "__main__":
    main()
