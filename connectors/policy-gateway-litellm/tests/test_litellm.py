"""policy_gateway_litellm without LiteLLM installed (PyPI is out of reach here): the ``litellm.completion`` arguments
it builds, and the HTTP exchange LiteLLM's ``openai/`` provider makes from them (through the OpenAI SDK) — sent to
the real gateway with the standard library — with the policy block read back as LiteLLM keeps it."""

from __future__ import annotations

import importlib.util
import types

import pytest

import policy_gateway_litellm as pgl
from openai_wire import chat_request, send

HAVE_LITELLM = importlib.util.find_spec("litellm") is not None
ANSWER = "Hello from the fake upstream. Contact me at [EMAIL]."
ENV = ("POLICY_GATEWAY_BASE_URL", "POLICY_GATEWAY_KEY", "POLICY_GATEWAY_POLICY_ID", "POLICY_GATEWAY_PROJECT_ID", "POLICY_GATEWAY_TARGET", "POLICY_GATEWAY_MODEL")
MESSAGES = [{"role": "user", "content": "Summarize our refund policy."}]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def litellm_exchange(kwargs: dict):
    """Sends what ``litellm.completion(**kwargs)`` sends for an ``openai/`` model: the OpenAI SDK's
    ``chat.completions.create`` with ``base_url=api_base``, the model without its provider prefix, the call's
    ``extra_headers`` and ``extra_body``, and the remaining OpenAI parameters (``stream``, …) in the body."""
    body = {"model": kwargs["model"].split("/", 1)[1], "messages": kwargs["messages"]}
    for param in ("stream", "stream_options", "temperature", "max_tokens"):
        if param in kwargs:
            body[param] = kwargs[param]
    return send(chat_request(kwargs["api_base"], kwargs["api_key"], body, kwargs["extra_headers"], kwargs["extra_body"]))


def test_the_quickstart_call_becomes_these_litellm_arguments(monkeypatch):
    monkeypatch.setenv("POLICY_GATEWAY_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("POLICY_GATEWAY_KEY", "pgk_example")
    assert pgl.policy_completion_kwargs(messages=MESSAGES, policy_id="policy-gateway", policy_user="user-12345", policy_project_id="support-bot") == {
        "model": "openai/gpt-4o-mini",
        "messages": MESSAGES,
        "api_base": "http://localhost:5000/policy",
        "api_key": "pgk_example",
        "extra_headers": {"X-Policy-User": "user-12345", "X-Policy-Project": "support-bot"},
        "extra_body": {"policy_id": "policy-gateway"},
    }


def test_arguments_merge_and_fall_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("POLICY_GATEWAY_BASE_URL", "https://gateway.example.com/policy")
    monkeypatch.setenv("POLICY_GATEWAY_POLICY_ID", "support-bot")
    monkeypatch.setenv("POLICY_GATEWAY_PROJECT_ID", "proj")
    monkeypatch.setenv("POLICY_GATEWAY_TARGET", "beta-app")
    kw = pgl.policy_completion_kwargs(MESSAGES, model="openai/llama-3", stream=True, num_retries=0, extra_headers={"X-Trace": "t"}, extra_body={"seed": 7})
    assert kw["model"] == "openai/llama-3", "an openai/ prefix is not doubled"
    assert kw["api_base"] == "https://gateway.example.com/policy"
    assert kw["api_key"] == "no-policy-key"
    assert kw["extra_headers"] == {"X-Trace": "t", "X-Policy-Project": "proj", "X-Policy-Target": "beta-app"}
    assert kw["extra_body"] == {"seed": 7, "policy_id": "support-bot"}
    assert (kw["stream"], kw["num_retries"]) == (True, 0)
    assert pgl.policy_completion_kwargs(MESSAGES, model="meta-llama/Llama-3-8b")["model"] == "openai/meta-llama/Llama-3-8b"
    with pytest.raises(ValueError, match="POLICY_GATEWAY_MODEL"):
        pgl.policy_completion_kwargs(MESSAGES, policy_id="p")


@pytest.mark.skipif(HAVE_LITELLM, reason="litellm is installed here")
def test_calling_without_litellm_says_what_to_install():
    with pytest.raises(ImportError, match="litellm"):
        pgl.policy_completion(MESSAGES, "policy-gateway", model="m")


def test_the_exchange_reaches_the_policy_and_the_answer_carries_its_block(gateway, unique_user):
    kw = pgl.policy_completion_kwargs(MESSAGES, "policy-gateway", unique_user, "support-bot", model="fake-model", api_key=gateway["key"], base_url=f"{gateway['url']}/policy")
    status, headers, answer = litellm_exchange(kw)
    assert status == 200
    assert answer["choices"][0]["message"]["content"] == ANSWER
    assert pgl.policy_of(answer)["policy_user"] == unique_user
    assert pgl.policy_of(answer)["project_id"] == "support-bot"
    assert headers["x-policy-decision"] == "allow"
    # LiteLLM's ModelResponse keeps unknown top-level fields as attributes
    # (convert_to_model_response_object: `for k, v in response_object.items(): if k not in _MODEL_RESPONSE_FIELDS: setattr(...)`)
    model_response = types.SimpleNamespace(**{k: v for k, v in answer.items()})
    assert pgl.policy_of(model_response) == answer["policy"]


def test_a_denied_topic_is_refused_by_the_gateway(gateway):
    kw = pgl.policy_completion_kwargs([{"role": "user", "content": gateway["prompts"]["deny"]}], "policy-gateway", model="fake-model", api_key=gateway["key"], base_url=f"{gateway['url']}/policy")
    status, _, answer = litellm_exchange(kw)
    assert status == 200
    assert answer["choices"][0]["message"]["content"] == "I can't help with that topic."
    assert (pgl.policy_of(answer)["decision"], pgl.policy_of(answer)["reason_code"]) == ("refuse", "REFUSE")


def test_stream_true_streams_with_the_policy_on_the_last_chunk(gateway):
    kw = pgl.policy_completion_kwargs(MESSAGES, "policy-gateway", model="fake-model", api_key=gateway["key"], base_url=f"{gateway['url']}/policy", stream=True)
    status, headers, chunks = litellm_exchange(kw)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert chunks[-1] == "[DONE]" and chunks[-2]["policy"]["decision"] == "allow"


def test_the_gateway_errors_litellm_would_raise(gateway, unique_user):
    base = dict(model="fake-model", base_url=f"{gateway['url']}/policy")
    status, _, body = litellm_exchange(pgl.policy_completion_kwargs(MESSAGES, "policy-gateway", api_key="pgk_wrongwrongwr_00000000000000000000000000000000", **base))
    assert (status, body["error"]["code"]) == (401, "invalid_api_key")
    status, _, body = litellm_exchange(pgl.policy_completion_kwargs(MESSAGES, None, api_key=gateway["key"], **base))
    assert (status, body["error"]["code"]) == (400, "missing_policy_id")
    limited = pgl.policy_completion_kwargs(MESSAGES, "limited", unique_user, api_key=gateway["key"], **base)
    assert [litellm_exchange(limited)[0] for _ in range(2)] == [200, 200]
    status, headers, body = litellm_exchange(limited)
    assert (status, body["error"]["code"], body["error"]["type"]) == (429, "rate_limit_exceeded", "requests")
    assert int(headers["retry-after"]) >= 1


def test_policy_of_without_a_block():
    assert pgl.policy_of({"id": "x"}) is None
    assert pgl.policy_of(types.SimpleNamespace(id="x")) is None
