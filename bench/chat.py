#!/usr/bin/env python3
"""Chat benchmark: what Switchboard adds to a model call, measured against the model itself in the same run.

A release server on SQLite talks to a zero-latency fake OpenAI server (bench/fake_openai.py, its own process). Each
turn is a streamed chat message whose agent calls one tool: two model calls, one tool run, four stored messages, the
usage recorded. At each concurrency the script measures, for --seconds each:

  * baseline: the same two streamed model calls made straight to the fake (what the model costs by itself)
  * switchboard: full turns through POST /api/v1/conversations/{id}/messages with Accept: text/event-stream

and prints turns/s, turn latency p50/p99, Switchboard's added latency (turn minus baseline, p50 and p99), and the
time-to-first-token overhead (first `message.delta` minus the baseline's first text byte). Last, it opens
--streams streams whose model holds the answer open and reports the server's RSS with all of them open.

Usage: bench/chat.py [--concurrency 1,8,32,128] [--seconds 5] [--streams 1000] [--no-build]
"""
import argparse, asyncio, json, os, statistics, subprocess, sys, time

from common import Server, build_release, free_port, http, raise_file_limit

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


async def switchboard_turn(connection, conversation, token):
    return await connection.stream(f"/api/v1/conversations/{conversation}/messages", {"content": "What time is it?"}, token)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    raise_file_limit()
    if not args.no_build:
        build_release()

    fake_port = free_port()
    fake = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_openai.py"), str(fake_port)], stdout=subprocess.PIPE)
    fake.stdout.readline()
    flags = ["--models", "bench,hold", "--models-bench-provider", "openai", "--models-bench-model", "fake",
             "--models-bench-base-url", f"http://127.0.0.1:{fake_port}/v1",
             "--models-hold-provider", "openai", "--models-hold-model", "hold",
             "--models-hold-base-url", f"http://127.0.0.1:{fake_port}/v1", "--models-hold-max-connections", str(args.streams + 100),
             "--models-bench-max-connections", "1024", "--chat-turn-timeout-seconds", "3600"]
    server = Server(flags)
    rows = []
    try:
        token = server.signup()
        most = max(max(levels), 1)
        conversations = [http("POST", server.base + "/api/v1/conversations", {"title": f"bench {i}"}, token)[1]["id"] for i in range(most)]

        async def run_levels():
            # Warm-up: caches, connection pools, the SQLite page cache.
            await load(4, 1, lambda c, i: switchboard_turn(c, conversations[i], token), server.port)
            for level in levels:
                base, base_time = await load(level, args.seconds, lambda c, i: baseline_turn(c), fake_port)
                turns, turn_time = await load(level, args.seconds, lambda c, i: switchboard_turn(c, conversations[i], token), server.port)
                rows.append((level, base, base_time, turns, turn_time))

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
        server.stop()

    ms = lambda seconds: seconds * 1000
    print(f"chat turns (one tool call each, streamed), release build, SQLite, {args.seconds:g} s per level; times in ms")
    print(f"{'conc':>5}{'turns/s':>9}{'turn p50':>10}{'turn p99':>10}{'model p50':>11}{'added p50':>11}{'added p99':>11}"
          f"{'TTFT ovh p50':>14}{'ratio p50':>11}")
    for level, base, base_time, turns, turn_time in rows:
        base_total = [total for _, total in base]
        turn_total = [total for _, total in turns]
        added50 = percentile(turn_total, 0.5) - percentile(base_total, 0.5)
        added99 = percentile(turn_total, 0.99) - percentile(base_total, 0.99)
        ttft = percentile([first for first, _ in turns if first], 0.5) - percentile([first for first, _ in base], 0.5)
        print(f"{level:>5}{len(turns) / turn_time:>9.0f}{ms(percentile(turn_total, 0.5)):>10.2f}{ms(percentile(turn_total, 0.99)):>10.2f}"
              f"{ms(percentile(base_total, 0.5)):>11.2f}{ms(added50):>11.2f}{ms(added99):>11.2f}{ms(ttft):>14.2f}"
              f"{percentile(turn_total, 0.5) / percentile(base_total, 0.5):>11.1f}")
    print(f"RSS: {idle_rss:.1f} MiB after the load; {open_rss:.1f} MiB with {args.streams} streams open "
          f"({(open_rss - idle_rss) * 1024 / args.streams:.1f} KiB a stream); peak {peak_rss:.1f} MiB")


if __name__ == "__main__":
    main()
