"""Who made each request, as CloudTrail would name them, and STS refusing a role that does not exist.

Both live in the moto server's child process (`sandbox.moto_server._serve_child` installs them):

- `record_callers`: every request moto authorizes while its IAM enforcement is on is logged with the caller's
  principal ARN as moto resolves it from the SigV4 access key (``arn:aws:sts::<account>:assumed-role/<role>/
  <session>`` for a role session: CloudTrail's ``userIdentity.arn``), the IAM action and the resource moto checked.
  ``GET /moto-api/callers`` returns the log, ``POST /moto-api/callers`` clears it; `callers` reads it from the parent.
- moto 5.2.5 lets anyone assume a role that does not exist, in any account (sts/models.py: "the role does not need
  to exist"); STS answers AccessDenied ("... is not authorized to perform: sts:AssumeRole on resource: <arn>"). Under
  enforcement the child refuses AssumeRole of a role missing from its account's IAM the same way. Without
  enforcement (Terraform's providers, the harness) moto's behaviour is kept.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

CALLERS_PATH = "/moto-api/callers"

_LOCK = threading.Lock()
_LOG: list[dict[str, str]] = []

StartResponse = Callable[..., Any]


def record_callers() -> None:
    """Patch moto's authorization check (child process only: it changes moto's global class)."""
    from moto.iam.access_control import IAMRequestBase
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        caller = str(self._access_key.arn)
        with _LOCK:
            _LOG.append({"caller": caller, "action": str(self._action), "resource": str(resource)})
        if self._action == "sts:AssumeRole" and resource.count(":") >= 5 and ":role/" in resource:
            account = resource.split(":")[4]
            roles = iam_backends[account][get_partition(self._region)].roles.values()
            if not any(role.arn == resource for role in roles):
                self._raise_access_denied()
        original(self, resource)

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


class CallersMiddleware:
    """Serves ``/moto-api/callers`` in front of moto's application."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CALLERS_PATH:
            return self.app(environ, start_response)
        with _LOCK:
            body = json.dumps({"callers": list(_LOG)}).encode()
            if environ.get("REQUEST_METHOD") == "POST":
                _LOG.clear()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def callers(endpoint_url: str, *, clear: bool = False) -> list[dict[str, str]]:
    """The child's log (``caller``, ``action``, ``resource`` per authorized request), oldest first; `clear` empties
    it after reading."""
    request = urllib.request.Request(f"{endpoint_url}{CALLERS_PATH}", data=b"" if clear else None)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10.0) as response:
        payload = json.loads(response.read())
    return [dict(entry) for entry in payload["callers"]]
