"""PolicyGatewayClient against the running gateway: JSON answers with the policy block, streamed chunks, every error
status as a PolicyGatewayError (status, OpenAI body, Retry-After), and the client's own bounds."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest

from policy_gateway import DEFAULT_BASE_URL, PolicyGatewayClient, PolicyGatewayError, policy_gateway_client_from_env
from tests.helpers import REDACTED_ANSWER, audit_record, chat

pytestmark = pytest.mark.anyio


def client_for(gateway: dict, **kw) -> PolicyGatewayClient:
    config = {"base_url": f"{gateway['url']}/policy", "api_key": gateway["key"], "policy_id": "policy-gateway", "policy_project_id": "support-bot"}
    config.update(kw)
    return PolicyGatewayClient(**config)


async def test_json_answer_carries_the_policy_block_and_the_server_side_metadata(gateway, unique_user):
    request_id = f"py-client-{uuid.uuid4().hex[:8]}"
    async with client_for(gateway) as client:
        answer = await client.chat_completions(chat(gateway["prompts"]["allow"]), policy_user=unique_user, request_id=request_id)
    assert answer["choices"][0]["message"]["content"] == REDACTED_ANSWER
    assert answer["policy"]["policy_id"] == "policy-gateway"
    assert answer["policy"]["decision"] == "allow"
    assert answer["policy"]["policy_user"] == unique_user
    assert answer["policy"]["project_id"] == "support-bot"
    record = audit_record(gateway, request_id)
    assert (record["policy_id"], record["decision"], record["policy_user"], record["policy_project_id"]) == ("policy-gateway", "allow", unique_user, "support-bot")


@pytest.mark.parametrize("prompt,decision,reason", [("deny", "refuse", "REFUSE"), ("offTopic", "refuse", "OFF_TOPIC"), ("rewrite", "rewrite", "REWRITE")])
async def test_policy_decisions_come_back_in_the_policy_block(gateway, prompt, decision, reason):
    async with client_for(gateway) as client:
        answer = await client.chat_completions(chat(gateway["prompts"][prompt]))
    assert (answer["policy"]["decision"], answer["policy"]["reason_code"]) == (decision, reason)


async def test_policy_fields_in_the_callers_body_are_replaced(gateway, unique_user):
    body = chat(gateway["prompts"]["allow"], policy_id="limited", policy_user="mallory", policy_project_id="other", policy_target="t")
    async with client_for(gateway) as client:
        answer = await client.chat_completions(body, policy_user=unique_user)
    assert answer["policy"]["policy_id"] == "policy-gateway"
    assert answer["policy"]["policy_user"] == unique_user
    assert answer["policy"]["project_id"] == "support-bot"
    assert answer["policy"]["policy_target"] is None
    assert body["policy_user"] == "mallory", "the caller's dict is not modified"


async def test_stream_yields_chunks_and_ends_with_the_policy_block(gateway, unique_user):
    async with client_for(gateway) as client:
        chunks = [c async for c in client.stream_chat_completions(chat(gateway["prompts"]["allow"]), policy_user=unique_user)]
    text = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c.get("choices"))
    assert text == REDACTED_ANSWER
    assert len(chunks) > 5
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["policy"]["policy_user"] == unique_user
    assert all("policy" not in c for c in chunks[:-1])


async def test_a_stream_arriving_in_small_pieces_is_reassembled(gateway):
    # `split-sse`: the fake upstream writes its stream in 7-byte pieces, events split mid-line and mid-UTF-8
    async with client_for(gateway) as client:
        chunks = [c async for c in client.stream_chat_completions({**chat(gateway["prompts"]["allow"]), "model": "split-sse"})]
    assert "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c.get("choices")) == REDACTED_ANSWER
    assert chunks[-1]["policy"]["decision"] == "allow"


async def test_a_refused_stream_is_answered_by_the_gateway(gateway):
    async with client_for(gateway) as client:
        chunks = [c async for c in client.stream_chat_completions(chat(gateway["prompts"]["deny"]))]
    assert "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c.get("choices")) == "I can't help with that topic."
    assert chunks[-1]["policy"]["decision"] == "refuse"


async def _error(client: PolicyGatewayClient, body: dict, **kw) -> PolicyGatewayError:
    with pytest.raises(PolicyGatewayError) as info:
        await client.chat_completions(body, **kw)
    err = info.value
    assert set(err.body["error"]) == {"message", "type", "param", "code"}
    return err


async def test_400_401_403_404_are_raised_with_the_gateways_error_body(gateway):
    async with client_for(gateway) as client:
        err = await _error(client, {"model": "fake-model", "messages": "not a list"})
        assert (err.status_code, err.code) == (400, "invalid_messages")
        assert err.request_id
    async with client_for(gateway, api_key="pgk_wrongwrongwr_00000000000000000000000000000000") as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code, err.type) == (401, "invalid_api_key", "invalid_request_error")
    async with client_for(gateway, api_key=None) as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code) == (401, "missing_api_key")
    async with client_for(gateway, api_key=gateway["limitedKey"]) as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code, err.type) == (403, "forbidden", "permission_error")
    async with client_for(gateway, policy_id="no-such-policy") as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code) == (404, "policy_not_found")
        assert err.message == 'unknown policy_id "no-such-policy"'
    async with client_for(gateway, base_url=f"{gateway['url']}/api") as client:
        err = await _error(client, chat("hi"))
        assert err.status_code == 404
        assert "/v1" in err.message


async def test_429_carries_retry_after_and_the_rate_limit_headers(gateway, unique_user):
    async with client_for(gateway, policy_id="limited", policy_project_id=None) as client:
        for _ in range(2):
            await client.chat_completions(chat("hi"), policy_user=unique_user)
        err = await _error(client, chat("hi"), policy_user=unique_user)
        assert (err.status_code, err.code, err.type) == (429, "rate_limit_exceeded", "requests")
        assert isinstance(err.retry_after, int) and err.retry_after >= 1
        assert err.headers["retry-after"] == str(err.retry_after)
        assert err.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(PolicyGatewayError) as info:
            [c async for c in client.stream_chat_completions(chat("hi"), policy_user=unique_user)]
        assert info.value.status_code == 429
        assert info.value.retry_after is not None and info.value.retry_after >= 1


async def test_an_unreachable_gateway_is_a_502_and_a_silent_one_a_504(gateway):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with PolicyGatewayClient(base_url=f"http://127.0.0.1:{port}/policy", policy_id="p") as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code) == (502, "gateway_unreachable")
    # `slow`: the fake upstream answers after 60 s; the client waits 0.5 s.
    async with client_for(gateway, timeout=0.5) as client:
        err = await _error(client, {**chat(gateway["prompts"]["allow"]), "model": "slow"})
        assert (err.status_code, err.code) == (504, "gateway_timeout")


async def test_bad_calls_fail_before_reaching_the_gateway(gateway):
    async with client_for(gateway) as client:
        err = await _error(client, ["not", "an", "object"])
        assert (err.status_code, err.code) == (400, "invalid_body")
        err = await _error(client, chat("hi", stream=True))
        assert (err.status_code, err.code) == (400, "stream_not_supported")
    async with client_for(gateway, policy_id=None) as client:
        err = await _error(client, chat("hi"))
        assert (err.status_code, err.code) == (500, "policy_gateway_misconfigured")
    async with client_for(gateway, max_response_bytes=64) as client:
        err = await _error(client, chat(gateway["prompts"]["allow"]))
        assert (err.status_code, err.code) == (502, "response_too_large")
    with pytest.raises(ValueError):
        PolicyGatewayClient(timeout=0)


async def test_configuration_from_the_environment(gateway, monkeypatch, unique_user):
    for name in ("POLICY_GATEWAY_BASE_URL", "POLICY_GATEWAY_KEY", "POLICY_GATEWAY_POLICY_ID", "POLICY_GATEWAY_PROJECT_ID", "POLICY_GATEWAY_TARGET", "POLICY_GATEWAY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    bare = policy_gateway_client_from_env()
    assert bare.endpoint == f"{DEFAULT_BASE_URL}/chat/completions" == "http://localhost:5000/policy/chat/completions"
    assert (bare.api_key, bare.policy_id, bare.timeout) == (None, None, 60.0)

    monkeypatch.setenv("POLICY_GATEWAY_BASE_URL", f"{gateway['url']}/policy/")
    monkeypatch.setenv("POLICY_GATEWAY_KEY", gateway["key"])
    monkeypatch.setenv("POLICY_GATEWAY_POLICY_ID", "policy-gateway")
    monkeypatch.setenv("POLICY_GATEWAY_PROJECT_ID", "support-bot")
    monkeypatch.setenv("POLICY_GATEWAY_TARGET", "beta-app")
    monkeypatch.setenv("POLICY_GATEWAY_TIMEOUT", "12.5")
    async with policy_gateway_client_from_env() as client:
        assert client.timeout == 12.5
        answer = await client.chat_completions(chat(gateway["prompts"]["allow"]), policy_user=unique_user)
    assert (answer["policy"]["project_id"], answer["policy"]["policy_target"], answer["policy"]["policy_user"]) == ("support-bot", "beta-app", unique_user)
    monkeypatch.setenv("POLICY_GATEWAY_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="POLICY_GATEWAY_TIMEOUT"):
        policy_gateway_client_from_env()


async def _pieces(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_the_sse_reader_reassembles_events_split_anywhere(size):
    from policy_gateway._client import _sse_data

    raw = 'data: {"a": "é"}\n\n: comment\n\ndata: {"b": 1}\r\n\r\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n'.encode()
    response = httpx.Response(200, content=_pieces(raw, size))
    assert [d async for d in _sse_data(response, 1024, 1.0)] == ['{"a": "é"}', '{"b": 1}', "line1\nline2", "[DONE]"]


async def test_the_sse_reader_refuses_an_event_over_the_limit():
    from policy_gateway._client import _sse_data

    response = httpx.Response(200, content=_pieces(b"data: " + b"x" * 5000, 100))
    with pytest.raises(PolicyGatewayError) as info:
        [d async for d in _sse_data(response, 1024, 1.0)]
    assert (info.value.status_code, info.value.code) == (502, "response_too_large")
