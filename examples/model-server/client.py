#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Queries the example model server over a unix socket or TCP.

    client.py --unix /run/model/model.sock "I love this phone"
    client.py --port 8080 "The battery died" "Great value"
    client.py --unix SOCK --health        # exit 0 when the server answers
    client.py --unix SOCK --model         # model metadata
    echo "one sentence per line" | client.py --unix SOCK

Exit status: 0 answered, 1 the server could not be reached or said no,
2 bad usage.
"""

import argparse
import http.client
import json
import socket
import sys


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket; the Host header is cosmetic."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class ClientError(Exception):
    pass


class Client:
    def __init__(self, unix=None, host="127.0.0.1", port=8080, timeout=5.0):
        self.where = f"unix:{unix}" if unix else f"http://{host}:{port}"
        if unix:
            self.conn = UnixHTTPConnection(unix, timeout)
        else:
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method, path, body=None):
        """Sends one request; returns the decoded JSON answer of a 2xx reply."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise ClientError(f"{self.where}: {e}") from None
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ClientError(f"{self.where}{path}: HTTP {resp.status}, not JSON") from None
        if not 200 <= resp.status < 300:
            msg = answer.get("error", "") if isinstance(answer, dict) else ""
            raise ClientError(f"{self.where}{path}: HTTP {resp.status} {msg}".rstrip())
        return answer

    def classify(self, text):
        return self.request("POST", "/v1/classify", {"text": text})

    def close(self):
        self.conn.close()


def format_model(m):
    return (
        f'{m["model"]}: {m["algorithm"]}\n'
        f'classes {", ".join(m["classes"])}; {m["training_examples"]} training examples, '
        f'vocabulary {m["vocabulary_size"]}, trained in {m["training_ms"]} ms at start-up'
    )


def format_answer(text, answer):
    label = answer["label"]
    p = answer["scores"][label]
    return f'{label:<9} p={p:.3f}  {answer["latency_ms"]:6.3f} ms  "{text}"'


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Ask the example model server to classify sentences.",
        epilog=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--unix", metavar="PATH", help="the server's unix socket")
    p.add_argument("--host", default="127.0.0.1", help="TCP address (default %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default %(default)s)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds (default %(default)s)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--health", action="store_true", help="GET /healthz")
    what.add_argument("--model", action="store_true", help="GET /v1/model")
    p.add_argument("--json", action="store_true", help="print the JSON answers as they came")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences (default: stdin lines)")
    args = p.parse_args(argv)
    if (args.health or args.model) and args.texts:
        p.error("--health and --model take no TEXT")
    return args


def main(argv=None):
    args = parse_args(argv)
    client = Client(args.unix, args.host, args.port, args.timeout)
    try:
        if args.health:
            answer = client.request("GET", "/healthz")
            print(json.dumps(answer) if args.json else f'{client.where}: {answer["status"]}')
            return 0
        if args.model:
            answer = client.request("GET", "/v1/model")
            print(json.dumps(answer, indent=2, sort_keys=True) if args.json
                  else format_model(answer))
            return 0
        texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
        for text in texts:
            answer = client.classify(text)
            print(json.dumps(answer, sort_keys=True) if args.json
                  else format_answer(text, answer))
        return 0
    except ClientError as e:
        print(f"client: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
