"""The HTTP exchange the OpenAI Python SDK makes for ``chat.completions.create``, rebuilt with the standard library.

LangChain's ``ChatOpenAI`` and LiteLLM's ``openai/`` provider both call that method, so the Python LangChain and
LiteLLM connectors are checked by sending what it would send — to the real gateway — and reading what comes back.
What the SDK sends (openai/openai-python, ``_base_client.py`` / ``resources/chat/completions``): ``POST
{base_url}/chat/completions``, ``Authorization: Bearer {api_key}``, ``Content-Type: application/json``, the client's
``default_headers`` and the call's ``extra_headers``, and a JSON body of the call's parameters with ``extra_body``
merged into it at the top level. This module is test scaffolding; it describes that contract, it is not the SDK.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Tuple


def chat_request(base_url: str, api_key: str, body: Mapping[str, Any], headers: Optional[Mapping[str, str]] = None, extra_body: Optional[Mapping[str, Any]] = None) -> urllib.request.Request:
    payload = {**body, **(extra_body or {})}
    all_headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    return urllib.request.Request(base_url.rstrip("/") + "/chat/completions", data=json.dumps(payload).encode(), headers=all_headers, method="POST")


def send(request: urllib.request.Request, timeout: float = 30) -> Tuple[int, Dict[str, str], Any]:
    """Sends ``request``; returns (status, lower-case headers, parsed body). SSE bodies come back as a list of chunks
    (``[DONE]`` kept as the string ``"[DONE]"``)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, headers, raw = r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    if headers.get("content-type", "").startswith("text/event-stream"):
        return status, headers, sse_chunks(raw.decode())
    return status, headers, json.loads(raw)


def sse_chunks(text: str) -> List[Any]:
    out: List[Any] = []
    for event in text.split("\n\n"):
        for line in event.split("\n"):
            if line.startswith("data: "):
                data = line[6:]
                out.append(data if data == "[DONE]" else json.loads(data))
    return out


class FakeHeaders(dict):
    """Case-insensitive enough for the lower-case names ``send`` returns."""

    def get(self, key, default=None):  # noqa: D401
        return super().get(key.lower(), default)


class APIStatusErrorShape(Exception):
    """What openai-python raises for an error status: ``status_code``, ``body`` (the ``error`` object of the
    answer, or the whole answer when it has none) and ``response.headers``. Built from a real gateway answer."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Mapping[str, Any]) -> None:
        super().__init__(body.get("error", {}).get("message", "") if isinstance(body, Mapping) else "")
        self.status_code = status
        self.body = body.get("error", body) if isinstance(body, Mapping) else body
        self.response = type("Response", (), {"headers": FakeHeaders(headers)})()
