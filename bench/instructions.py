#!/usr/bin/env python3
"""Instructions a chat turn costs: a count that this machine's noise does not move.

Rates and CPU times on a shared 2-core machine move by a quarter from one run to the next, more than most single
changes to the hot path gain or lose. This runs the release server under valgrind's callgrind (instrumentation off
while it starts and warms up), then counts the instructions the server executes for --turns streamed turns of each
kind, one at a time against the zero-latency fake model of bench/chat.py, and prints instructions a turn. Two builds
compared with it differ by their code alone: `--binary` measures another build. Valgrind cannot load the debug build,
so `--smoke` makes the turns without it and counts nothing.

Usage: bench/instructions.py [--turns 100] [--no-build] [--binary PATH] [--keep DIR]
"""
import argparse, asyncio, glob, os, shutil, subprocess, tempfile

import common
from common import Server, add_common_arguments, http, prepare
from chat import LOAD_FLAGS, Connection, model_flags, start_fake, switchboard_turn



def callgrind(pid, *arguments):
    subprocess.run(["callgrind_control", *arguments, str(pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--keep", metavar="DIR", help="keep callgrind's profiles of the counted turns there (for callgrind_annotate)")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be 1 or more")
    if args.smoke:
        args.turns = 3
    prepare(args)
    # Valgrind cannot load the debug build at all, so a smoke run makes its turns without it, and counts nothing.
    counting = not args.smoke
    if counting and shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    output = tempfile.mkdtemp(prefix="switchboard-callgrind-")
    if counting:
        # Valgrind cannot read the DWARF 5 the toolchain writes; the symbol table is all it needs.
        binary = os.path.join(output, "switchboard")
        subprocess.run(["objcopy", "--strip-debug", common.BINARY, binary], check=True)
        common.BINARY = binary

    fake, fake_port = start_fake()
    flags = model_flags(fake_port, ["bench", "plain"]) + LOAD_FLAGS
    counts = {}
    server = None
    try:
        launcher = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={output}/callgrind.%p"]
        server = Server(flags, launcher=launcher if counting else [])
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
            if not counting:
                asyncio.run(turns(args.turns, model))
                continue
            callgrind(server.process.pid, "-i", "on")
            callgrind(server.process.pid, "-z")
            asyncio.run(turns(args.turns, model))
            callgrind(server.process.pid, "-d")
            dumps = sorted(glob.glob(f"{output}/callgrind.*"), key=os.path.getmtime)
            with open(dumps[-1]) as dump:
                total = next(int(line.split()[1]) for line in dump if line.startswith(("summary:", "totals:")))
            counts[kind] = total / args.turns
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copy(dumps[-1], os.path.join(args.keep, f"callgrind.{kind}"))
    finally:
        fake.terminate()
        fake.wait()
        if server:
            server.stop()
        shutil.rmtree(output, ignore_errors=True)

    if not counting:
        print(f"instructions a streamed turn: smoke run, {args.turns} turns of each kind made on the debug build without valgrind, nothing counted")
        return
    build = "release build"
    print(f"instructions a streamed turn, {build}, SQLite, {args.turns} turns of each kind one at a time, the conversation's history growing")
    for kind, count in counts.items():
        print(f"{kind:>6}  {count / 1e6:8.2f} M")


if __name__ == "__main__":
    main()
