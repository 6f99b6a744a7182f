"""IAM eventual consistency for the sandbox: a WSGI middleware that lets GetRole return an older trust policy.

Real IAM is eventually consistent (IAM User Guide, "Changes that I make are not always immediately visible"): for a
few seconds after an UpdateAssumeRolePolicy, a GetRole from the same or another caller may still return a previous
document. moto is perfectly consistent, so a remediation that writes back what it read can never lose a Deny there.
This middleware wraps moto's WSGI application inside the server's child process (`sandbox.moto_server.MotoServer`
in process mode and `tests.load.serial_moto.SerialMotoServer`) and brings that lag back:

- It records every trust-policy version, with the lag on or off: after each successful CreateRole and
  UpdateAssumeRolePolicy of role R the document sent (moto stores it verbatim) becomes R's latest version (earlier
  ones are kept for `RETAIN_SECONDS`, or the window if longer); DeleteRole forgets R; ``/moto-api/reset`` forgets
  everything and turns the lag off. Writes always go to moto unchanged: IAM is durable, only reads lag.
- While the lag is on (``seconds`` > 0), each GetRole of R, with ``probability``, answers with a version chosen at
  random among R's EARLIER versions that were current at some moment within the last ``seconds`` (never an older
  one; if there is none, the latest). Each ListRoles entry is treated the same way, independently.
- The older document is rendered exactly as moto renders a role's document: moto's own ``url_encode`` transformer
  for GetRole (``GetRoleResponse.Role.AssumeRolePolicyDocument``; ListRoles has none) and moto's XML writer
  (``xmltodict.unparse``), spliced into moto's real response for the current role. Everything else in the answer
  (ARN, tags, dates, request id) is moto's.
- A request carrying the header ``X-Aar-Consistent-Read`` (any value) always gets the latest version: for test
  code that must see the durable state (the final checks, an analyzer that reads what IAM stores).

Switch: ``POST /moto-api/iam-read-lag`` with a JSON body ``{"seconds": 3, "probability": 0.5, "seed": 7}``
(``seed`` optional; ``{"seconds": 0}`` turns the lag off) answers the new settings and the previous ones;
``GET /moto-api/iam-read-lag`` answers the settings and counters (reads, stale answers, versions kept).
`MotoServer.set_iam_read_lag` and `MotoServer.iam_read_lag_stats` are the client side.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ADMIN_PATH = "/moto-api/iam-read-lag"
RESET_PATH = "/moto-api/reset"
CONSISTENT_READ_HEADER = "X-Aar-Consistent-Read"
_CONSISTENT_READ_ENVIRON = "HTTP_" + CONSISTENT_READ_HEADER.upper().replace("-", "_")
_IAM_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/[^/]+/[^/]+/iam/aws4_request")
_DOCUMENT = re.compile(rb"<AssumeRolePolicyDocument>[^<]*</AssumeRolePolicyDocument>")
_MEMBER = re.compile(rb"<member>(.*?)</member>", re.DOTALL)
_ROLE_NAME = re.compile(rb"<RoleName>([^<]*)</RoleName>")
_WRITES = {"CreateRole": "AssumeRolePolicyDocument", "UpdateAssumeRolePolicy": "PolicyDocument"}
# Versions are kept this long (or the lag's window, if longer) whether the lag is on or not, so switching it on
# makes the writes of the last `seconds` before the switch lag too.
RETAIN_SECONDS = 60.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class _Version:
    since: float  # monotonic time it became the latest
    document: str  # the document as moto stores it (the request's parameter, verbatim)
    until: float | None = None  # monotonic time a newer version replaced it


@dataclass
class ReadLagStats:
    reads: int = 0  # GetRole answers and ListRoles entries seen while the lag was on
    stale: int = 0  # of which answered with an older version
    stale_get_role: int = 0
    stale_list_roles: int = 0
    writes: int = 0  # trust-policy versions recorded since the last reset


@dataclass
class ReadLagState:
    """The switch and the version history, shared by every request of one server process."""

    seconds: float = 0.0
    probability: float = 1.0
    seed: str | None = None
    stats: ReadLagStats = field(default_factory=ReadLagStats)
    history: dict[tuple[str, str], list[_Version]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _random: random.Random = field(default_factory=random.Random)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def settings(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "probability": self.probability, "seed": self.seed}

    def configure(self, seconds: float, probability: float = 1.0, seed: str | int | None = None) -> dict[str, Any]:
        if not (seconds >= 0 and 0.0 <= probability <= 1.0):
            raise ValueError(f"need seconds >= 0 and 0 <= probability <= 1, not {seconds!r}, {probability!r}")
        with self.lock:
            previous = self.settings()
            self.seconds, self.probability = float(seconds), float(probability)
            self.seed = None if seed is None else str(seed)
            self._random = random.Random(self.seed)
            return previous

    def reset(self) -> None:
        with self.lock:
            self.seconds, self.probability, self.seed = 0.0, 1.0, None
            self.history.clear()
            self.stats = ReadLagStats()

    # -- history --------------------------------------------------------------------------------------------------
    def record(self, account: str, role: str, document: str) -> None:
        now = self.clock()
        with self.lock:
            versions = self.history.setdefault((account, role), [])
            if versions:
                versions[-1].until = now
            versions.append(_Version(now, document))
            self.stats.writes += 1
            self._prune(versions, now)

    def forget(self, account: str, role: str) -> None:
        with self.lock:
            self.history.pop((account, role), None)

    def _prune(self, versions: list[_Version], now: float) -> None:
        horizon = now - max(self.seconds, RETAIN_SECONDS)
        keep = [v for v in versions[:-1] if v.until is not None and v.until >= horizon]
        versions[:] = [*keep, versions[-1]]

    def stale_document(self, account: str, role: str, operation: str) -> str | None:
        """An earlier document to answer instead of the latest, or None (lag off, no luck, nothing in the window)."""
        with self.lock:
            if self.seconds <= 0:
                return None
            self.stats.reads += 1
            versions = self.history.get((account, role))
            if not versions or self._random.random() >= self.probability:
                return None
            horizon = self.clock() - self.seconds
            candidates = [v for v in versions[:-1] if v.until is not None and v.until >= horizon]
            if not candidates:
                return None
            self.stats.stale += 1
            if operation == "GetRole":
                self.stats.stale_get_role += 1
            else:
                self.stats.stale_list_roles += 1
            return self._random.choice(candidates).document

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                **self.settings(),
                "reads": self.stats.reads,
                "stale": self.stats.stale,
                "stale_get_role": self.stats.stale_get_role,
                "stale_list_roles": self.stats.stale_list_roles,
                "writes": self.stats.writes,
                "roles": len(self.history),
                "versions": sum(len(v) for v in self.history.values()),
            }


def render_document(document: str, operation: str) -> bytes:
    """The ``<AssumeRolePolicyDocument>`` element exactly as moto 5.2 writes it for `operation`."""
    from moto.core.serialize import url_encode

    xmltodict = importlib.import_module("xmltodict")  # moto's XML writer (it ships no type hints)
    value = url_encode(document) if operation == "GetRole" else document  # IamResponse's transformers
    rendered = xmltodict.unparse(
        {"AssumeRolePolicyDocument": str(value)}, full_document=False, short_empty_elements=True
    )
    return str(rendered).encode("utf-8")


def _account_of(environ: dict[str, Any], access_key: str) -> str:
    """The account moto serves this request in (BaseResponse.get_current_account's order)."""
    import os

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


class IamReadLagMiddleware:
    """WSGI middleware around moto's application (see the module docstring)."""

    def __init__(self, app: WsgiApp, state: ReadLagState | None = None) -> None:
        self.app = app
        self.state = state or ReadLagState()
        self._write_lock = threading.Lock()  # a write and its recording are one step, in the order moto applied them

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == ADMIN_PATH:
            return self._admin(environ, start_response)
        if path == RESET_PATH and environ.get("REQUEST_METHOD") == "POST":
            result = self._call(environ)
            self.state.reset()
            return self._respond(start_response, *result)
        scope = _IAM_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        if scope is None:
            return self.app(environ, start_response)
        params = self._params(environ)
        action = params.get("Action", "")
        if action in _WRITES or action == "DeleteRole":
            with self._write_lock:
                status, headers, body = self._call(environ)
                if status.startswith("200"):
                    account = _account_of(environ, scope["key"])
                    role = params.get("RoleName", "")
                    if action == "DeleteRole":
                        self.state.forget(account, role)
                    elif _WRITES[action] in params:
                        self.state.record(account, role, params[_WRITES[action]])
            return self._respond(start_response, status, headers, body)
        if action not in ("GetRole", "ListRoles") or environ.get(_CONSISTENT_READ_ENVIRON):
            return self.app(environ, start_response)
        status, headers, body = self._call(environ)
        if status.startswith("200") and self.state.seconds > 0:
            account = _account_of(environ, scope["key"])
            body = self._stale(body, account, action, params.get("RoleName", ""))
        return self._respond(start_response, status, headers, body)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _stale(self, body: bytes, account: str, action: str, role: str) -> bytes:
        if action == "GetRole":
            document = self.state.stale_document(account, role, action)
            if document is None:
                return body
            return _DOCUMENT.sub(lambda _: render_document(document, action), body, count=1)

        def member(match: re.Match[bytes]) -> bytes:
            text = match.group(0)
            name = _ROLE_NAME.search(text)
            if name is None:
                return text
            document = self.state.stale_document(account, name.group(1).decode(), action)
            if document is None:
                return text
            return _DOCUMENT.sub(lambda _: render_document(document, action), text, count=1)

        return _MEMBER.sub(member, body)

    @staticmethod
    def _params(environ: dict[str, Any]) -> dict[str, str]:
        """The query-protocol parameters (query string and form body); the body is put back for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        params = dict(urllib.parse.parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        if "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
            params.update(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self.app(environ, capture)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return str(captured["status"]), list(captured["headers"]), b"".join(chunks)

    @staticmethod
    def _respond(
        start_response: StartResponse, status: str, headers: list[tuple[str, str]], body: bytes
    ) -> list[bytes]:
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _admin(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        status, answer = "200 OK", {}
        try:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                previous = self.state.configure(
                    float(request.get("seconds", 0)), float(request.get("probability", 1.0)), request.get("seed")
                )
                answer = {"previous": previous, **self.state.report()}
            else:
                answer = self.state.report()
        except (ValueError, TypeError, AttributeError) as error:
            status, answer = "400 Bad Request", {"error": str(error)}
        body = json.dumps(answer).encode()
        return self._respond(start_response, status, [("Content-Type", "application/json")], body)


def moto_app(state: ReadLagState | None = None) -> IamReadLagMiddleware:
    """moto's server application (what ThreadedMotoServer serves) behind the read-lag middleware."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return IamReadLagMiddleware(DomainDispatcherApplication(create_backend_app), state)


def consistent_reads(client: Any) -> Any:
    """Mark every request of an IAM client as a consistent read (never answered from an older version)."""

    def mark(request: Any, **_: Any) -> None:
        request.headers[CONSISTENT_READ_HEADER] = "1"

    client.meta.events.register("before-send.iam", mark)
    return client
