"""A local SQS-compatible server for development, tests, the demo and the benchmarks.

It is moto's server (the ``local`` extra: ``pip install './CHECKOUT[local]'``) bound to
127.0.0.1, on a free port unless one is given, counting the requests it serves by SQS action::

    python -m django_sqs.localserver              # prints: SQS_ENDPOINT_URL=http://127.0.0.1:PORT

It runs until SIGTERM or SIGINT, also in the background (``&``), under systemd or in a
container without a terminal: standard input is not watched unless ``--exit-with-stdin``
is given (what ``LocalSQSServer`` passes, so the server ends with the process that
started it, even if that one is killed).

From Python, ``LocalSQSServer`` runs it in a child process (its own state, its own
port) and stops it again::

    with LocalSQSServer() as server:
        server.url          # "http://127.0.0.1:PORT"
        server.counts()     # {"SendMessage": 3, "ReceiveMessage": 1, ...}

``GET /__django_sqs__/counts`` returns the counts as JSON; ``POST`` to the same path
resets them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter

COUNTS_PATH = "/__django_sqs__/counts"


class CountingMiddleware:
    """WSGI middleware that counts requests by SQS action (JSON or query protocol)."""

    def __init__(self, app):
        self.app = app
        self.counts: Counter = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with self.lock:
                if environ.get("REQUEST_METHOD") == "POST":
                    self.counts.clear()
                body = json.dumps(dict(self.counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rpartition(".")[2] if target else _query_action(environ.get("QUERY_STRING", ""))
        with self.lock:
            self.counts[action or "other"] += 1
        return self.app(environ, start_response)


def _query_action(query: str) -> str:
    from urllib.parse import parse_qs

    return (parse_qs(query).get("Action") or [""])[0]


def serve(host: str = "127.0.0.1", port: int = 0, verbose: bool = False, exit_with_stdin: bool = False) -> None:
    """Run moto's server in this process until SIGTERM/SIGINT (or, with
    ``exit_with_stdin``, until standard input closes)."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class RequestHandler(MotoRequestHandler):
        def log_request(self, *args, **kwargs):
            if verbose:
                super().log_request(*args, **kwargs)

    app = CountingMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    url = f"http://{host}:{server.server_address[1]}"
    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if exit_with_stdin:
        # The parent holds the other end of our stdin: when it goes away, so do we.
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    sys.stdout.write(f"SQS_ENDPOINT_URL={url}\n")
    sys.stdout.flush()
    server.serve_forever()


class LocalSQSServer:
    """moto's server in a child process on 127.0.0.1; a context manager."""

    #: The module run as the server (``python -m MODULE --port N``); the benchmarks use
    #: their own, which patches moto before serving.
    module = "django_sqs.localserver"

    def __init__(self, port: int = 0, env: dict | None = None, args: tuple[str, ...] = ()):
        self.port = port
        self.env = env
        self.args = args
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> LocalSQSServer:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "--port", str(self.port), "--exit-with-stdin", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("SQS_ENDPOINT_URL=") or not line:
                break
        if not line.startswith("SQS_ENDPOINT_URL="):
            self.stop()
            raise RuntimeError("the local SQS server did not start (is moto[server] installed?)")
        self.url = line.strip().partition("=")[2]
        self.port = int(self.url.rpartition(":")[2])
        return self

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + COUNTS_PATH, timeout=10) as response:
            return json.loads(response.read())

    def reset_counts(self) -> None:
        request = urllib.request.Request(self.url + COUNTS_PATH, data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            for stream in (self.process.stdin, self.process.stdout):
                if stream:
                    stream.close()

    def __enter__(self) -> LocalSQSServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m django_sqs.localserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--exit-with-stdin", action="store_true",
        help="also stop when standard input closes (for a parent process that starts the server)",
    )
    options = parser.parse_args(argv)
    serve(options.host, options.port, options.verbose, options.exit_with_stdin)


if __name__ == "__main__":
    main()
