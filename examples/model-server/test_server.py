#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tests for the example model server, standard library only, no sandbox:

    /usr/bin/python3 examples/model-server/test_server.py

The model must classify sentences that are not in its training data, and
the HTTP API must answer every request, good or bad, with JSON.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import client  # noqa: E402
import naive_bayes  # noqa: E402

# None of these is in data/sentiment.csv.
HELD_OUT = [
    ("positive", "I love this phone, the camera is amazing"),
    ("negative", "The battery died after two days and support never answered"),
    ("negative", "Terrible service, I want a refund"),
    ("negative", "It was not good"),
    ("positive", "Not bad, actually pretty decent"),
    ("negative", "I didn't like the food"),
    ("positive", "Fantastic value, highly recommended"),
    ("negative", "The delivery was late and the box was damaged"),
    ("positive", "The model server answers quickly and the results are accurate"),
    ("negative", "This update is awful, everything is slower now"),
    ("positive", "Great documentation and a friendly community"),
    ("negative", "The sandbox refused to start and the error message was useless"),
]


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.examples = naive_bayes.load_examples(os.path.join(HERE, "data", "sentiment.csv"))
        cls.model = naive_bayes.NaiveBayes().fit(cls.examples)

    def test_held_out_sentences(self):
        texts = {t.lower() for _, t in self.examples}
        for want, text in HELD_OUT:
            self.assertNotIn(text.lower(), texts, "a held-out sentence is in the training data")
            label, probs = self.model.predict(text)
            self.assertEqual(label, want, f"{text!r}: {probs}")
            self.assertAlmostEqual(sum(probs.values()), 1.0)

    def test_negation_marks_the_span(self):
        self.assertEqual(
            naive_bayes.tokenize("The app is not fast! It didn\u2019t crash, great"),
            ["app", "not", "not_fast", "didn't", "not_crash", "great"],
        )

    def test_unknown_words_give_the_prior(self):
        label, probs = self.model.predict("xyzzy plugh")
        self.assertEqual(set(probs), {"negative", "positive"})
        self.assertLess(abs(probs["positive"] - probs["negative"]), 0.05)


class ServerTest(unittest.TestCase):
    """Runs server.py as a process on a unix socket, as in the sandbox."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.sock = os.path.join(cls.tmp.name, "model.sock")
        cls.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--unix", cls.sock],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(cls.sock):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                cls.tearDownClass()
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        cls.client = client.Client(unix=cls.sock, timeout=5)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            cls.proc.wait(timeout=10)
        cls.proc.stderr.close()
        cls.tmp.cleanup()

    def raw(self, request):
        """Sends raw bytes, returns (status, body) of the one answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(request)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def test_socket_is_world_writable(self):
        self.assertEqual(os.stat(self.sock).st_mode & 0o777, 0o666)

    def test_healthz(self):
        self.assertEqual(self.client.request("GET", "/healthz"), {"status": "ok"})

    def test_model_metadata(self):
        m = self.client.request("GET", "/v1/model")
        self.assertEqual(m["classes"], ["negative", "positive"])
        self.assertGreaterEqual(m["training_examples"], 300)
        self.assertGreater(m["vocabulary_size"], 0)
        self.assertTrue(m["model"].startswith("nb-sentiment@"))

    def test_classify(self):
        a = self.client.classify("Great documentation and a friendly community")
        self.assertEqual(a["label"], "positive")
        self.assertEqual(set(a), {"label", "scores", "model", "latency_ms"})
        self.assertGreaterEqual(a["latency_ms"], 0)

    def test_keep_alive_serves_several_requests(self):
        for _ in range(3):
            self.assertEqual(self.client.classify("awful")["label"], "negative")

    def test_errors_are_json(self):
        close = b"Host: x\r\nConnection: close\r\n"
        post = b"POST /v1/classify HTTP/1.1\r\n"
        cases = [
            (b"GET /nope HTTP/1.1\r\n" + close + b"\r\n", 404),
            (b"GET /v1/classify HTTP/1.1\r\n" + close + b"\r\n", 405),
            (post + close + b"Content-Length: 3\r\n\r\n{x}", 400),
            (post + close + b"Content-Length: 2\r\n\r\n[]", 400),
            (post + close + b'Content-Length: 11\r\n\r\n{"text":""}', 400),
            # No "Connection: close": with the body unread, the server
            # must close by itself rather than parse the body as a request.
            (post + b"Host: x\r\n\r\n", 411),
            (post + b"Host: x\r\nContent-Length: 9999999\r\n\r\n", 413),
        ]
        for request, status in cases:
            got, body = self.raw(request)
            self.assertEqual(got, status, request)
            self.assertIn(b'"error"', body, request)

    def test_sigterm_removes_the_socket(self):
        # Last by name order is not guaranteed: use a server of its own.
        sock = os.path.join(self.tmp.name, "other.sock")
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--unix", sock],
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(sock))
            proc.terminate()
            self.assertEqual(proc.wait(timeout=10), 0)
            self.assertFalse(os.path.exists(sock))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    unittest.main(verbosity=2)
