#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A small inference server: sentiment classification over HTTP.

Trains a naive Bayes model at start-up from data/sentiment.csv (next to this
file) and serves it with the standard library's http.server, on a TCP port
or on a unix socket. It needs nothing but /usr/bin/python3 and its own
directory, so it runs unchanged inside a moat sandbox:

    moat run --bind $PWD:/opt/model --bind /srv/sock:/run/model:rw -- \\
        /usr/bin/python3 /opt/model/server.py --unix /run/model/model.sock

API (JSON in and out):
    GET  /healthz      {"status": "ok"}
    GET  /v1/model     classes, vocabulary size, training examples, ...
    POST /v1/classify  {"text": "..."} ->
                       {"label": ..., "scores": {...}, "model": ..., "latency_ms": ...}
"""

import argparse
import http.server
import ipaddress
import json
import logging
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time

# The sandbox mounts this directory read-only; do not even try to write
# __pycache__ next to the module (and keep the source tree clean on a host).
sys.dont_write_bytecode = True

import naive_bayes  # noqa: E402  (after the bytecode switch on purpose)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "data", "sentiment.csv")

# Input caps: the server must stay small whatever a client sends.
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 10000
IDLE_TIMEOUT_S = 30  # a keep-alive connection that sends nothing is closed

log = logging.getLogger("model-server")


class Model:
    """The trained classifier plus the metadata that /v1/model reports."""

    def __init__(self, data_path, alpha):
        t0 = time.perf_counter()
        examples = naive_bayes.load_examples(data_path)
        self.nb = naive_bayes.NaiveBayes(alpha=alpha).fit(examples)
        self.training_ms = (time.perf_counter() - t0) * 1000.0
        self.name = "nb-sentiment@" + naive_bayes.dataset_digest(examples)
        self.metadata = {
            "model": self.name,
            "algorithm": "multinomial naive Bayes, negation-marked unigrams",
            "classes": self.nb.classes,
            "vocabulary_size": len(self.nb.vocabulary),
            "training_examples": len(examples),
            "examples_per_class": self.nb.examples_per_class,
            "alpha": self.nb.alpha,
            "training_data": os.path.basename(data_path),
            "training_ms": round(self.training_ms, 3),
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def classify(self, text):
        label, probs = self.nb.predict(text)
        return label, {c: round(p, 6) for c, p in probs.items()}


class HttpError(Exception):
    """A client error that becomes a JSON {"error": ...} answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes the three endpoints; every answer, errors included, is JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive; every reply has Content-Length
    server_version = "moat-model-server/1"
    timeout = IDLE_TIMEOUT_S
    model = None  # set by make_server()

    def do_GET(self):
        self._dispatch({"/healthz": self._healthz, "/v1/model": self._model_info})

    def do_POST(self):
        self._dispatch({"/v1/classify": self._classify})

    def _dispatch(self, routes):
        t0 = time.perf_counter()
        path = self.path.split("?", 1)[0]
        try:
            if path not in routes:
                known = ("/healthz", "/v1/model", "/v1/classify")
                if path in known:
                    raise HttpError(405, f"method {self.command} not allowed on {path}")
                raise HttpError(404, f"no such endpoint: {path}")
            status, body = routes[path](t0)
        except HttpError as e:
            status, body = e.status, {"error": e.message}
        except Exception:  # a bug: log it, answer 500, keep serving
            log.exception("error handling %s %s", self.command, path)
            status, body = 500, {"error": "internal error"}
        self._send_json(status, body)

    def _healthz(self, t0):
        return 200, {"status": "ok"}

    def _model_info(self, t0):
        return 200, self.model.metadata

    def _classify(self, t0):
        text = self._read_json().get("text")
        if not isinstance(text, str) or not text.strip():
            raise HttpError(400, 'expected {"text": "<non-empty string>"}')
        if len(text) > MAX_TEXT_CHARS:
            raise HttpError(413, f"text longer than {MAX_TEXT_CHARS} characters")
        label, scores = self.model.classify(text)
        return 200, {
            "label": label,
            "scores": scores,
            "model": self.model.name,
            # Server-side time: read the body, classify, up to encoding.
            "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3),
        }

    def _read_json(self):
        # Until the body is read, an error must close the connection: what
        # is left of the body would otherwise be parsed as the next request.
        close_after = self.close_connection  # what the request asked for
        self.close_connection = True
        length = self.headers.get("Content-Length")
        if length is None:
            raise HttpError(411, "Content-Length required")
        try:
            n = int(length)
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if n < 0 or n > MAX_BODY_BYTES:
            raise HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(n)
        if len(raw) != n:
            raise HttpError(400, "body shorter than Content-Length")
        self.close_connection = close_after
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise HttpError(400, f"body is not UTF-8 JSON: {e}") from None
        if not isinstance(obj, dict):
            raise HttpError(400, "body must be a JSON object")
        return obj

    def _send_json(self, status, obj):
        body = (json.dumps(obj, sort_keys=True) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    # A unix-socket peer has no (host, port); the base class would index it.
    def address_string(self):
        if isinstance(self.client_address, tuple) and self.client_address:
            return str(self.client_address[0])
        return "unix"

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)


class ThreadingUnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """http.server's ThreadingHTTPServer, on a unix socket instead of TCP."""

    daemon_threads = True

    def server_bind(self):
        super().server_bind()
        # The client is the host's root, or another uid: the socket is the
        # service's front door, so anyone who can reach the directory may
        # connect. Who can reach it is the directory's permission to set.
        os.chmod(self.server_address, 0o666)
        st = os.stat(self.server_address)
        self.socket_id = (st.st_dev, st.st_ino)


class ThreadingTCPHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def remove_stale_socket(path):
    """Unlinks a socket file left by a server that is gone.

    Refuses to touch anything that is not a socket, or a socket that still
    answers, so two servers never steal each other's address.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SystemExit(f"server: {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    finally:
        probe.close()
    raise SystemExit(f"server: {path} is in use by another server")


def make_server(args, model):
    Handler.model = model
    if args.unix:
        remove_stale_socket(args.unix)
        return ThreadingUnixHTTPServer(args.unix, Handler), f"unix:{args.unix}"
    srv = ThreadingTCPHTTPServer((args.host, args.port), Handler)
    host, port = srv.server_address[:2]
    if not ipaddress.ip_address(host).is_loopback:
        # Inside moat only loopback exists; on a host this opens the model
        # to the network, which is rarely what a test run wants.
        log.warning("listening on %s, not a loopback address", host)
    return srv, f"http://{host}:{port}"


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Serve a naive Bayes sentiment classifier over HTTP.",
        epilog="examples:\n"
        "  server.py                          # http://127.0.0.1:8080\n"
        "  server.py --port 9000\n"
        "  server.py --unix /run/model/model.sock",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="TCP address (default %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default %(default)s)")
    p.add_argument("--unix", metavar="PATH", help="listen on a unix socket instead of TCP")
    p.add_argument("--data", default=DEFAULT_DATA, help="training CSV (label,text)")
    p.add_argument("--alpha", type=float, default=1.0, help="smoothing (default %(default)s)")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port}: not a port number")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s model-server: %(message)s",
    )
    try:
        model = Model(args.data, args.alpha)
    except (OSError, ValueError) as e:
        log.error("cannot train: %s", e)
        return 1
    try:
        server, where = make_server(args, model)
    except OSError as e:
        log.error("cannot listen: %s", e)
        return 1

    # SIGTERM must be handled explicitly: as PID 1 of a PID namespace the
    # kernel drops signals that have no handler, so `moat stop` would have
    # to wait for its SIGKILL. shutdown() blocks until serve_forever()
    # returns, so it cannot run in the handler, which interrupts that loop's
    # own thread.
    def on_signal(signum, frame):
        log.info("%s: shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    meta = model.metadata
    log.info(
        "listening on %s: model %s, %d examples, %d classes, vocabulary %d, trained in %.1f ms",
        where, model.name, meta["training_examples"], len(meta["classes"]),
        meta["vocabulary_size"], model.training_ms,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if args.unix:
            remove_own_socket(server, args.unix)
    log.info("stopped")
    return 0


def remove_own_socket(server, path):
    """Unlinks the socket on exit, unless another server has replaced it."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == server.socket_id:
            os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
