#!/usr/bin/env python3
"""Chat benchmark: what Switchboard adds to a model call, measured against the model itself in the same run.

A release server on SQLite talks to a zero-latency fake OpenAI server (bench/fake_openai.py, its own process), with
the plan's rate limit and token budget on (the free tier, raised so that it allows the load). Two kinds of turn,
each a streamed chat message (POST /api/v1/conversations/{id}/messages, Accept: text/event-stream):

  * plain: one model call that answers with text; two stored messages, the usage recorded
  * tool: the agent calls one tool; two model calls, one tool run, four stored messages, the usage recorded

For each kind and concurrency the script measures, for --seconds each:

  * baseline: the same streamed model calls made straight to the fake (what the model costs by itself)
  * switchboard: whole turns through Switchboard

and prints turns/s, turn latency p50/p99, Switchboard's added latency (turn minus baseline, p50 and p99), the
time-to-first-token overhead (first `message.delta` minus the baseline's first text byte), and the server's CPU time
a turn (user and system, in ms: steadier from run to run than the rates, which the other processes' share of this
machine's cores moves). It reports the idle RSS
after start-up, then opens --streams streams whose model holds the answer open and reports the RSS with all of them
open. Targets: added p50 under 1 ms (plain) and 2 ms (tool) at concurrency 1; idle RSS under 40 MiB; 1,000 open
streams under 150 MiB.

Usage: bench/chat.py [--concurrency 1,8,32,128] [--plain-concurrency 1,32] [--seconds 5] [--streams 1000] [--no-build] [--smoke]
"""
import argparse, asyncio, json, os, statistics, subprocess, sys, time

from common import Server, add_common_arguments, free_port, http, prepare, raise_file_limit

HERE = os.path.dirname(os.path.abspath(__file__))


class Connection:
    """One keep-alive HTTP/1.1 connection that sends JSON and reads a chunked event stream."""

    def __init__(self, port):
        self.port = port

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self):
        self.writer.close()

    async def stream(self, path, body, token=None, accept_sse=True, until=b"event: done", mark=b"event: message.delta"):
        """Sends the request; returns (seconds to the first `mark`, seconds to `until` or the end of the body)."""
        payload = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if accept_sse:
            head += "Accept: text/event-stream\r\n"
        started = time.perf_counter()
        self.writer.write(head.encode() + b"\r\n" + payload)
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"{path}: {status.decode().strip()}")
        while (await self.reader.readline()) != b"\r\n":
            pass
        first = None
        finished = None
        seen = b""
        while True:
            size = int((await self.reader.readline()).strip(), 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                break
            seen += data
            now = time.perf_counter() - started
            if first is None and mark in seen:
                first = now
            if finished is None and until and until in seen:
                finished = now
            seen = seen[-64:]
        return first, finished or (time.perf_counter() - started)


async def baseline_plain(connection):
    """The model's own cost of a plain turn: one streamed answer, straight from the fake."""
    messages = [{"role": "user", "content": "What time is it?"}]
    return await connection.stream("/v1/chat/completions", {"model": "plain", "messages": messages, "stream": True},
                                   accept_sse=False, until=None, mark=b'"content":"The')


async def baseline_turn(connection):
    """The model's own cost of a turn: the tool-call response, then the answer, straight from the fake."""
    messages = [{"role": "user", "content": "What time is it?"}]
    _, first_call = await connection.stream("/v1/chat/completions", {"model": "fake", "messages": messages, "stream": True},
                                            accept_sse=False, until=None, mark=b"data:")
    messages += [{"role": "assistant", "content": None, "tool_calls": [{"id": "call_bench", "type": "function",
                                                                          "function": {"name": "current_time", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "call_bench", "content": "{}"}]
    text_at, second_call = await connection.stream("/v1/chat/completions", {"model": "fake", "messages": messages, "stream": True},
                                                   accept_sse=False, until=None, mark=b'"content":"The')
    return first_call + text_at, first_call + second_call


async def switchboard_turn(connection, conversation, token, model=None):
    body = {"content": "What time is it?"}
    if model:
        body["model"] = model
    return await connection.stream(f"/api/v1/conversations/{conversation}/messages", body, token)


async def load(concurrency, seconds, make_turn, port):
    """`concurrency` workers, each on its own connection, running turns back to back for `seconds`."""
    results = []
    deadline = time.perf_counter() + seconds

    async def worker(index):
        connection = Connection(port)
        await connection.open()
        try:
            while time.perf_counter() < deadline:
                results.append(await make_turn(connection, index))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return results, time.perf_counter() - started


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def open_streams(server, token, conversations, port):
    """Opens one held stream per conversation; returns once every one has its first delta."""
    connections = []
    ready = 0

    async def one(conversation):
        nonlocal ready
        connection = Connection(port)
        await connection.open()
        connections.append(connection)
        payload = json.dumps({"content": "Hold on", "model": "hold"}).encode()
        connection.writer.write((f"POST /api/v1/conversations/{conversation}/messages HTTP/1.1\r\nHost: x\r\n"
                                 f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\n"
                                 f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
        seen = b""
        while b"event: message.delta" not in seen:
            seen += await connection.reader.read(4096)
        ready += 1

    await asyncio.gather(*(one(conversation) for conversation in conversations))
    return connections


# A configured model's name, and the model the fake is asked for, which picks its answer: a tool call then text,
# text alone, or text held open.
FAKE_MODELS = {"bench": "fake", "plain": "plain", "hold": "hold"}

# The current defaults, the limiter and the budget on, with a free tier that allows the load.
LOAD_FLAGS = ["--chat-turn-timeout-seconds", "3600",
              "--tiers-free-requests-per-minute", "1000000", "--tiers-free-monthly-tokens", "2000000000000"]


def start_fake():
    """The zero-latency fake OpenAI server (bench/fake_openai.py), its own process, and its port."""
    port = free_port()
    fake = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_openai.py"), str(port)], stdout=subprocess.PIPE)
    fake.stdout.readline()
    return fake, port


def model_flags(port, names):
    """Server flags that configure `names` (of FAKE_MODELS) as OpenAI models served by the fake on `port`."""
    url = f"http://127.0.0.1:{port}/v1"
    flags = ["--models", ",".join(names)]
    for name in names:
        flags += [f"--models-{name}-provider", "openai", f"--models-{name}-model", FAKE_MODELS[name], f"--models-{name}-base-url", url]
    return flags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--concurrency", default="1,8,32,128", help="levels for tool turns")
    parser.add_argument("--plain-concurrency", default="1,32", help="levels for plain turns")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--streams", type=int, default=1000)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.concurrency, args.plain_concurrency, args.seconds, args.streams = "1,4", "1", 1, 20
    kinds = [("plain", [int(level) for level in args.plain_concurrency.split(",") if level]),
             ("tool", [int(level) for level in args.concurrency.split(",") if level])]
    raise_file_limit()
    prepare(args)

    fake, fake_port = start_fake()
    flags = (model_flags(fake_port, ["bench", "plain", "hold"]) + LOAD_FLAGS +
             ["--models-hold-max-connections", str(args.streams + 100), "--models-bench-max-connections", "1024",
              "--models-plain-max-connections", "1024", "--chat-max-concurrent-turns-per-user", "10000"])
    server = Server(flags)
    rows = []
    try:
        time.sleep(1)
        startup_rss = server.rss_mib()
        token = server.signup()
        most = max([4] + [max(levels, default=1) for _, levels in kinds])  # the warm-up runs 4 at once
        conversations = [http("POST", server.base + "/api/v1/conversations", {"title": f"bench {i}"}, token)[1]["id"] for i in range(most)]

        async def run_levels():
            # Warm-up: caches, connection pools, the SQLite page cache.
            await load(4, 1, lambda c, i: switchboard_turn(c, conversations[i], token), server.port)
            for kind, levels in kinds:
                baseline = baseline_plain if kind == "plain" else baseline_turn
                model = "plain" if kind == "plain" else None
                for level in levels:
                    base, base_time = await load(level, args.seconds, lambda c, i: baseline(c), fake_port)
                    cpu_before = server.cpu_seconds()
                    turns, turn_time = await load(level, args.seconds,
                                                  lambda c, i: switchboard_turn(c, conversations[i], token, model), server.port)
                    cpu = server.cpu_seconds() - cpu_before
                    rows.append((kind, level, base, base_time, turns, turn_time, cpu))

        asyncio.run(run_levels())
        idle_rss = server.rss_mib()

        held = [http("POST", server.base + "/api/v1/conversations", {"title": f"held {i}"}, token)[1]["id"] for i in range(args.streams)]

        async def hold():
            connections = await open_streams(server, token, held, server.port)
            open_rss = server.rss_mib()
            for connection in connections:
                connection.close()
            return open_rss

        open_rss = asyncio.run(hold())
        peak_rss = server.rss_mib("VmHWM")
    finally:
        fake.terminate()
        fake.wait()
        server.stop()

    ms = lambda seconds: seconds * 1000
    build = "debug build (smoke run: the figures mean nothing)" if args.smoke else "release build"
    print(f"chat turns (streamed), {build}, SQLite, limiter and budget on, {args.seconds:g} s per level; times in ms")
    print(f"{'kind':>6}{'conc':>5}{'turns/s':>9}{'turn p50':>10}{'turn p99':>10}{'model p50':>11}{'added p50':>11}{'added p99':>11}"
          f"{'TTFT ovh p50':>14}{'ratio p50':>11}{'CPU/turn':>10}")
    for kind, level, base, base_time, turns, turn_time, cpu in rows:
        base_total = [total for _, total in base]
        turn_total = [total for _, total in turns]
        added50 = percentile(turn_total, 0.5) - percentile(base_total, 0.5)
        added99 = percentile(turn_total, 0.99) - percentile(base_total, 0.99)
        ttft = percentile([first for first, _ in turns if first], 0.5) - percentile([first for first, _ in base], 0.5)
        print(f"{kind:>6}{level:>5}{len(turns) / turn_time:>9.0f}{ms(percentile(turn_total, 0.5)):>10.2f}{ms(percentile(turn_total, 0.99)):>10.2f}"
              f"{ms(percentile(base_total, 0.5)):>11.2f}{ms(added50):>11.2f}{ms(added99):>11.2f}{ms(ttft):>14.2f}"
              f"{percentile(turn_total, 0.5) / percentile(base_total, 0.5):>11.1f}{ms(cpu / len(turns)):>10.2f}")
    print("(targets at concurrency 1: added p50 under 1 ms for plain turns, under 2 ms for tool turns)")
    print(f"RSS: {startup_rss:.1f} MiB idle after start-up (target < 40); {idle_rss:.1f} MiB after the load; {open_rss:.1f} MiB with "
          f"{args.streams} streams open ({(open_rss - idle_rss) * 1024 / args.streams:.1f} KiB a stream; target < 150 MiB for 1,000); "
          f"peak {peak_rss:.1f} MiB")


if __name__ == "__main__":
    main()
