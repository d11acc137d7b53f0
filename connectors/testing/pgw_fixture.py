"""pytest fixtures shared by the Python connectors' tests: the running Policy Gateway they talk to.

The gateway is the real ``policy-gateway serve`` process in front of a fake OpenAI-compatible upstream, started by
``connectors/testing/fixture.ts``. Under ``npm test`` the vitest runner starts it and passes its description in
``PGW_CONNECTOR_FIXTURE`` (JSON); run on their own (``python3 -m pytest connectors/policy-gateway-fastapi``), the
tests start it themselves with the repository's pinned Node (``node_modules/.bin/node``, or ``POLICY_GATEWAY_NODE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start_fixture() -> tuple[dict, subprocess.Popen]:
    node = os.environ.get("POLICY_GATEWAY_NODE") or str(ROOT / "node_modules" / ".bin" / "node")
    proc = subprocess.Popen(
        [node, str(ROOT / "connectors" / "testing" / "fixture.ts")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError(f"the gateway fixture did not start ({node} connectors/testing/fixture.ts)")
    return json.loads(line), proc


@pytest.fixture(scope="session")
def gateway() -> dict:
    """``{"url", "key", "limitedKey", "prompts": {...}}`` of the running gateway (see connectors/testing/fixture.ts)."""
    given = os.environ.get("PGW_CONNECTOR_FIXTURE")
    if given:
        yield json.loads(given)
        return
    info, proc = _start_fixture()
    try:
        yield info
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture()
def unique_user() -> str:
    """A user id no other test (or run) has used: quota counters start at zero for it."""
    return f"py-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def add_to_path(directory: Path) -> None:
    """Makes a connector's package importable from its tests without installing it."""
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
