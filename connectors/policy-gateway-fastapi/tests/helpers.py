"""Test helpers: a real uvicorn server in a thread, the fixture's side door (audit records, upstream counters)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.request
from typing import Dict, Iterator, Optional

import uvicorn


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Runs ``app`` under uvicorn on a free loopback port; yields its base URL, stops it afterwards."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def control(gateway: dict, path: str) -> dict:
    with urllib.request.urlopen(gateway["controlUrl"] + path, timeout=10) as r:
        return json.loads(r.read())


_PAIR = re.compile(r'([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> Dict[str, Optional[str]]:
    """A logfmt audit line as a dict (``-`` → None, quoted values unquoted); the timestamp under ``timestamp``."""
    stamp, _, rest = line.partition(" ")
    out: Dict[str, Optional[str]] = {"timestamp": stamp}
    for key, value in _PAIR.findall(rest):
        if value.startswith('"'):
            value = json.loads(value)
        out[key] = None if value == "-" else value
    return out


def audit_record(gateway: dict, request_id: str, timeout: float = 5.0) -> Dict[str, Optional[str]]:
    """Waits for the gateway's audit record of ``request_id`` (written when the request completes)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in control(gateway, "/audit")["lines"]:
            if f" request_id={request_id} " in line:
                return parse_logfmt(line)
        if time.monotonic() > deadline:
            raise AssertionError(f"no audit record for {request_id}")
        time.sleep(0.05)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def chat(content: str, **extra) -> dict:
    return {"model": "fake-model", "messages": [{"role": "user", "content": content}], **extra}


REDACTED_ANSWER = "Hello from the fake upstream. Contact me at [EMAIL]."
