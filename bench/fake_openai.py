#!/usr/bin/env python3
"""A zero-latency fake of OpenAI's streaming Chat Completions, for bench/chat.py (not a test fixture).

Every request gets its whole answer at once: a `current_time` tool call when the last message is not a tool result
(a new turn), otherwise a short text (the turn's second call). The last message decides, not the whole history: a
conversation's earlier turns leave tool results in it, and the turns after them must call the tool too. Model `plain`
always answers with the text (a turn without tools). Model `hold` answers with one piece of text and then keeps the
stream open until the client goes away (for counting the memory of open streams).

Usage: bench/fake_openai.py PORT
"""
import asyncio, json, sys

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data):
    payload = f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def delta(delta, finish=None):
    return chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench",
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


USAGE = chunk({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench", "choices": [],
               "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}})
DONE = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
TOOL_CALL = HEAD + delta({"role": "assistant", "content": None}) + delta(
    {"tool_calls": [{"index": 0, "id": "call_bench", "type": "function", "function": {"name": "current_time", "arguments": ""}}]}) + delta(
    {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}) + delta({}, "tool_calls") + USAGE + DONE
TEXT = HEAD + delta({"role": "assistant", "content": ""}) + b"".join(
    delta({"content": piece}) for piece in ["The time ", "is now, ", "as asked."]) + delta({}, "stop") + USAGE + DONE
HOLD = HEAD + delta({"role": "assistant", "content": ""}) + delta({"content": "Holding "})


class Fake(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            request = json.loads(body or b"{}")
            if request.get("model") == "hold":
                self.transport.write(HOLD)  # and never finish
            elif request.get("model") == "plain" or (request.get("messages") or [{}])[-1].get("role") == "tool":
                self.transport.write(TEXT)
            else:
                self.transport.write(TOOL_CALL)


async def main(port):
    server = await asyncio.get_running_loop().create_server(Fake, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
