"""The LiteLLM connector's arguments passed to the real OpenAI Python SDK, as LiteLLM's ``openai/`` provider passes
them (``OpenAI(base_url=api_base, api_key=…).chat.completions.create(model=<without prefix>, …, extra_headers=…,
extra_body=…)``), against the running gateway.

Needs ``openai`` (not in Debian's packages): not collected by ``npm test`` (``testpaths = tests``); run it with
``python3 -m pytest tests_with_library`` where the library is installed. LiteLLM itself is not involved.
"""

from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")

import policy_gateway_litellm as pgl  # noqa: E402

MESSAGES = [{"role": "user", "content": "Summarize our refund policy."}]


def sdk_call(kw: dict, **extra):
    client = openai.OpenAI(base_url=kw["api_base"], api_key=kw["api_key"], max_retries=0)
    return client.chat.completions.create(model=kw["model"].split("/", 1)[1], messages=kw["messages"], extra_headers=kw["extra_headers"], extra_body=kw["extra_body"], **extra)


def test_the_sdk_reaches_the_policy_and_keeps_the_block(gateway):
    kw = pgl.policy_completion_kwargs(MESSAGES, "policy-gateway", "user-12345", "support-bot", model="fake-model", api_key=gateway["key"], base_url=f"{gateway['url']}/policy")
    answer = sdk_call(kw)
    assert answer.choices[0].message.content == "Hello from the fake upstream. Contact me at [EMAIL]."
    policy = pgl.policy_of(answer.model_dump())
    assert (policy["policy_user"], policy["project_id"], policy["decision"]) == ("user-12345", "support-bot", "allow")
    chunks = list(sdk_call(kw, stream=True))
    assert (chunks[-1].model_extra or {})["policy"]["decision"] == "allow"


def test_the_sdk_raises_the_gateways_429(gateway, unique_user):
    kw = pgl.policy_completion_kwargs(MESSAGES, "limited", unique_user, model="fake-model", api_key=gateway["key"], base_url=f"{gateway['url']}/policy")
    sdk_call(kw)
    sdk_call(kw)
    with pytest.raises(openai.RateLimitError) as info:
        sdk_call(kw)
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert int(info.value.response.headers["retry-after"]) >= 1
