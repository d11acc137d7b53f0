"""Real FastAPI apps (the docs' quickstart and examples/app.py) served by uvicorn and called over HTTP, in front of
the running gateway: allow, refuse, rewrite, streams passed through, a client disconnect reaching the upstream, and
every error status answered with the gateway's body and headers."""

from __future__ import annotations

import importlib
import json
import socket
import sys
import uuid

import httpx
import pytest

from policy_gateway import PolicyGatewayClient
from tests.helpers import REDACTED_ANSWER, audit_record, chat, control, serve, wait_for

ENV = ("POLICY_GATEWAY_BASE_URL", "POLICY_GATEWAY_KEY", "POLICY_GATEWAY_POLICY_ID", "POLICY_GATEWAY_PROJECT_ID", "POLICY_GATEWAY_TARGET", "POLICY_GATEWAY_TIMEOUT", "POLICY_GATEWAY_USER_HEADER")


def load_example(name: str, env: dict, monkeypatch):
    """Imports examples/<name>.py afresh with ``env`` as its environment (the apps read it at import)."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop(f"examples.{name}", None)
    return importlib.import_module(f"examples.{name}")


def gateway_env(gateway: dict, **extra) -> dict:
    env = {"POLICY_GATEWAY_BASE_URL": f"{gateway['url']}/policy", "POLICY_GATEWAY_KEY": gateway["key"], "POLICY_GATEWAY_POLICY_ID": "policy-gateway", "POLICY_GATEWAY_PROJECT_ID": "support-bot"}
    env.update(extra)
    return env


@pytest.fixture()
def quickstart(gateway, monkeypatch):
    module = load_example("quickstart", gateway_env(gateway), monkeypatch)
    with serve(module.app) as url:
        yield url


def client_for(gateway: dict, **kw) -> PolicyGatewayClient:
    config = {"base_url": f"{gateway['url']}/policy", "api_key": gateway["key"], "policy_id": "policy-gateway", "policy_project_id": "support-bot"}
    config.update(kw)
    return PolicyGatewayClient(**config)


@pytest.fixture()
def full_app(gateway, monkeypatch):
    """examples/app.py built around a client the test chooses: ``with full_app(**client_kw) as url``."""
    module = load_example("app", gateway_env(gateway), monkeypatch)
    return lambda **kw: serve(module.create_app(client_for(gateway, **kw)))


# --- the quickstart, exactly as the docs write it -------------------------------------------------------------


def test_quickstart_allows_with_the_policy_block_and_audits_the_user(gateway, quickstart, unique_user):
    request_id = f"py-quick-{uuid.uuid4().hex[:8]}"
    r = httpx.post(f"{quickstart}/chat", json=chat(gateway["prompts"]["allow"]), headers={"X-Policy-User": unique_user, "X-Request-Id": request_id})
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"] == REDACTED_ANSWER
    assert body["policy"]["decision"] == "allow"
    assert body["policy"]["policy_user"] == unique_user
    assert body["policy"]["project_id"] == "support-bot"
    # the quickstart does not forward X-Request-Id, so find the record by user (written once the request completes)
    lines: list = []
    wait_for(lambda: lines.extend(line for line in control(gateway, "/audit")["lines"] if f" policy_user={unique_user} " in line) or lines)
    assert len(lines) == 1
    assert " policy_id=policy-gateway decision=allow reason_code=ALLOW " in lines[0]


@pytest.mark.parametrize("prompt,decision,reason,text", [
    ("deny", "refuse", "REFUSE", "I can't help with that topic."),
    ("offTopic", "refuse", "OFF_TOPIC", "I can only help with refunds and shipping."),
    ("rewrite", "rewrite", "REWRITE", REDACTED_ANSWER),
])
def test_quickstart_returns_refusals_and_rewrites_as_the_policy_decides(gateway, quickstart, prompt, decision, reason, text):
    r = httpx.post(f"{quickstart}/chat", json=chat(gateway["prompts"][prompt]))
    assert r.status_code == 200
    body = r.json()
    assert (body["policy"]["decision"], body["policy"]["reason_code"]) == (decision, reason)
    assert body["choices"][0]["message"]["content"] == text


def test_quickstart_without_the_handler_still_keeps_the_error_status_and_headers(gateway, monkeypatch):
    module = load_example("quickstart", gateway_env(gateway, POLICY_GATEWAY_POLICY_ID="limited", POLICY_GATEWAY_PROJECT_ID=""), monkeypatch)
    user = f"py-quick-429-{uuid.uuid4().hex[:8]}"
    with serve(module.app) as url:
        for _ in range(2):
            assert httpx.post(f"{url}/chat", json=chat("hi"), headers={"X-Policy-User": user}).status_code == 200
        r = httpx.post(f"{url}/chat", json=chat("hi"), headers={"X-Policy-User": user})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["detail"]["error"]["code"] == "rate_limit_exceeded"


# --- examples/app.py: dependency, exception handler, streaming routes ------------------------------------------


def test_the_end_user_comes_from_request_state_before_any_header(gateway, full_app, monkeypatch, unique_user):
    module = load_example("app", gateway_env(gateway), monkeypatch)
    app = module.create_app(client_for(gateway))

    @app.middleware("http")
    async def session(request, call_next):  # what an auth middleware does
        request.state.policy_user = unique_user
        return await call_next(request)

    with serve(app) as url:
        r = httpx.post(f"{url}/chat", json=chat(gateway["prompts"]["allow"]), headers={"X-Policy-User": "mallory"})
    assert r.json()["policy"]["policy_user"] == unique_user
    monkeypatch.setenv("POLICY_GATEWAY_USER_HEADER", "")
    with full_app() as url:
        r = httpx.post(f"{url}/chat", json=chat(gateway["prompts"]["allow"]), headers={"X-Policy-User": "mallory"})
    assert r.json()["policy"]["policy_user"] is None


def test_proxy_route_streams_sse_and_passes_the_decision_headers(gateway, full_app, unique_user):
    with full_app() as url:
        with httpx.stream("POST", f"{url}/chat/proxy", json=chat(gateway["prompts"]["allow"], stream=True), headers={"X-Policy-User": unique_user}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["x-policy-decision"] == "allow"
            events = [e for e in "".join(r.iter_text()).split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c["choices"]) == REDACTED_ANSWER
    assert chunks[-1]["policy"]["policy_user"] == unique_user


def test_proxy_route_hands_out_the_first_chunk_early_and_a_disconnect_closes_the_upstream(gateway, full_app):
    before = control(gateway, "/upstream")["aborted"]
    with full_app() as url:
        # `slow-stream`: one chunk, then 60 s of silence from the fake upstream.
        with httpx.stream("POST", f"{url}/chat/proxy", json={**chat(gateway["prompts"]["allow"], stream=True), "model": "slow-stream"}, timeout=30) as r:
            first = next(r.iter_raw())
            assert first.startswith(b"data: ")
        # leaving the block closed the connection to the app mid-stream
        wait_for(lambda: control(gateway, "/upstream")["aborted"] == before + 1)


def test_stream_route_joins_the_text_and_keeps_the_decision(gateway, full_app):
    with full_app() as url:
        r = httpx.post(f"{url}/chat/text", json=chat(gateway["prompts"]["rewrite"]))
    assert r.status_code == 200
    assert r.json()["text"] == REDACTED_ANSWER
    assert r.json()["policy"]["decision"] == "rewrite"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("route", ["/chat", "/chat/proxy"])
@pytest.mark.parametrize("case", [
    ("400", {}, {"model": "fake-model", "messages": "nope"}, 400, "invalid_messages"),
    ("401", {"api_key": "pgk_wrongwrongwr_00000000000000000000000000000000"}, None, 401, "invalid_api_key"),
    ("403", {"api_key": "LIMITED"}, None, 403, "forbidden"),
    ("404", {"policy_id": "no-such-policy"}, None, 404, "policy_not_found"),
    ("502", {"base_url": "UNREACHABLE"}, None, 502, "gateway_unreachable"),
    ("504", {"timeout": 0.5}, "SLOW", 504, "gateway_timeout"),
], ids=lambda c: c[0])
def test_each_error_status_reaches_the_apps_client_in_openai_shape(gateway, full_app, route, case):
    _, client_kw, body, status, code = case
    client_kw = dict(client_kw)
    if client_kw.get("api_key") == "LIMITED":
        client_kw["api_key"] = gateway["limitedKey"]
    if client_kw.get("base_url") == "UNREACHABLE":
        client_kw["base_url"] = f"http://127.0.0.1:{_free_port()}/policy"
    if body is None:
        body = chat(gateway["prompts"]["allow"])
    if body == "SLOW":
        body = {**chat(gateway["prompts"]["allow"]), "model": "slow"}
    with full_app(**client_kw) as url:
        r = httpx.post(f"{url}{route}", json=body, timeout=30)
    assert r.status_code == status
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    if status < 500:
        assert r.headers["x-request-id"], "the gateway's request id comes along"


@pytest.mark.parametrize("route", ["/chat", "/chat/proxy"])
def test_429_reaches_the_apps_client_with_retry_after(gateway, full_app, route, unique_user):
    with full_app(policy_id="limited", policy_project_id=None) as url:
        for _ in range(2):
            assert httpx.post(f"{url}{route}", json=chat("hi"), headers={"X-Policy-User": unique_user}).status_code == 200
        r = httpx.post(f"{url}{route}", json=chat("hi"), headers={"X-Policy-User": unique_user})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit-requests"] == "2"
    assert r.json()["error"] == {"message": r.json()["error"]["message"], "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    assert r.json()["error"]["message"].startswith('rate limit "user 2 requests per day" exceeded')


def test_the_audit_record_names_the_user_and_project_the_app_set(gateway, full_app, unique_user):
    request_id = f"py-app-{uuid.uuid4().hex[:8]}"
    with full_app() as url:
        r = httpx.post(f"{url}/chat", json=chat(gateway["prompts"]["deny"], policy_user="mallory"), headers={"X-Policy-User": unique_user, "X-Request-Id": request_id})
    assert r.status_code == 200
    record = audit_record(gateway, request_id)
    assert (record["decision"], record["reason_code"], record["policy_user"], record["policy_project_id"], record["key_label"]) == ("refuse", "REFUSE", unique_user, "support-bot", "connector-tests")
