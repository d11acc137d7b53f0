"""Errors of the Policy Gateway client: one exception type carrying the gateway's OpenAI-shaped error answer."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from starlette.exceptions import HTTPException

#: Response headers worth handing back to your own client with an error (pacing, tracing, the policy's decision).
PASS_BACK_HEADERS = ("retry-after", "x-request-id")
PASS_BACK_PREFIXES = ("x-policy-", "x-ratelimit-")


def pass_back_headers(headers: Mapping[str, str]) -> dict:
    """The subset of gateway response headers an app should return to its own client (lower-case names)."""
    out = {}
    for name, value in headers.items():
        low = name.lower()
        if low in PASS_BACK_HEADERS or low.startswith(PASS_BACK_PREFIXES):
            out[low] = value
    return out


class PolicyGatewayError(HTTPException):
    """The gateway answered with an error, or could not be reached.

    ``status_code`` is the gateway's HTTP status (or 502/504 for an unreachable or silent gateway, 400 for a request
    body that is not a JSON object); ``body`` is its OpenAI-shaped answer ``{"error": {"message", "type", "param",
    "code"}}`` and ``error`` the inner object; ``retry_after`` is the ``Retry-After`` header in seconds (429);
    ``headers`` are the gateway's headers to hand back (``Retry-After``, ``X-Request-Id``, ``X-Policy-*``,
    ``X-RateLimit-*``). It is a Starlette ``HTTPException``, so even without
    :func:`policy_gateway_exception_handler` FastAPI answers with the same status and headers (body ``{"detail": …}``);
    with the handler installed the body is the gateway's own, unchanged.
    """

    def __init__(self, status_code: int, body: Mapping[str, Any], headers: Optional[Mapping[str, str]] = None) -> None:
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            error = {"message": f"the policy gateway answered with status {status_code}", "type": "server_error", "param": None, "code": None}
            body = {"error": error}
        self.body = dict(body)
        self.error = dict(error)
        kept = pass_back_headers(headers or {})
        super().__init__(status_code=status_code, detail=self.body, headers=kept)
        retry = kept.get("retry-after")
        self.retry_after: Optional[int] = int(retry) if retry is not None and retry.isdigit() else None
        self.request_id: Optional[str] = kept.get("x-request-id")

    @property
    def message(self) -> str:
        return str(self.error.get("message", ""))

    @property
    def code(self) -> Optional[str]:
        return self.error.get("code")

    @property
    def type(self) -> Optional[str]:
        return self.error.get("type")

    def __str__(self) -> str:
        return f"{self.status_code} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"PolicyGatewayError(status_code={self.status_code!r}, error={self.error!r})"


def local_error(status_code: int, message: str, code: str, type_: str = "server_error") -> PolicyGatewayError:
    """An error of the client itself (the gateway never answered), in the same OpenAI shape."""
    return PolicyGatewayError(status_code, {"error": {"message": message, "type": type_, "param": None, "code": code}})
