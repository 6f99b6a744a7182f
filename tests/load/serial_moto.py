"""A moto server that handles one request at a time, for tests that depend on DynamoDB's atomic conditional writes.

moto's own server (`sandbox.moto_server.MotoServer`) serves requests on many threads and moto's backends take no
lock: a conditional PutItem is a check followed by a write, so two concurrent requests can both pass the check. Real
DynamoDB never lets that happen, and the per-role lock of the remediation relies on it. Under the load and contention
tests such a moto race would look exactly like a lost deny. This server keeps moto's threaded HTTP front end
(keep-alive connections, several clients at once) but runs the moto application under one lock, so every AWS call
is atomic, as it is in AWS.

It is the sandbox's `MotoServer` with a different child process: same lifecycle, reset, sessions and env, and the
same IAM read-lag switch (`MotoServer.set_iam_read_lag`): the middleware of `sandbox.iam_consistency` runs inside
the lock, so the trust-policy versions it records are in exactly the order moto applied the writes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sandbox.moto_server import MotoServer

REPO_ROOT = Path(__file__).resolve().parents[2]


class SerialMotoServer(MotoServer):
    """`MotoServer` (process mode) whose child serialises every request."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mode="process", **kwargs)

    def _start_process(self) -> None:
        self._log_file = tempfile.TemporaryFile(prefix="moto-serial-", suffix=".log")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.load.serial_moto", self.host, str(self._requested_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            close_fds=True,
            cwd=REPO_ROOT,
            env=env,
        )
        try:
            self._port = self._read_child_port(self._process)
        except Exception:
            self.stop()
            raise


def _one_at_a_time(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            result = app(environ, start_response)
            try:
                return list(result)  # moto does its work while the body is produced: keep that inside the lock
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return serialised


def _serve(host: str, port: int) -> None:
    """Child entry point: serve until stdin reaches EOF (the parent closed it or died)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from sandbox.iam_consistency import moto_app

    app = _one_at_a_time(moto_app())
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.buffer.read()
    finally:
        server.shutdown()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
