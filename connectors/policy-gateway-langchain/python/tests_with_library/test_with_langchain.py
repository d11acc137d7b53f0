"""The Python connector with the real langchain-openai, end to end through the running gateway.

Needs ``langchain-openai`` (not available from Debian: not collected by ``npm test``, which runs ``tests/``; run it with
``python3 -m pytest tests_with_library`` in an environment that has it — see the README for the versions it last passed with).
"""

from __future__ import annotations

import pytest

langchain_openai = pytest.importorskip("langchain_openai")
openai = pytest.importorskip("openai")

import policy_gateway_langchain as pgl  # noqa: E402

ANSWER = "Hello from the fake upstream. Contact me at [EMAIL]."


def llm(gateway: dict, **kw):
    args = dict(api_key=gateway["key"], policy_id="policy-gateway", policy_user="user-12345", policy_project_id="support-bot", base_url=f"{gateway['url']}/policy", model="fake-model", max_retries=0)
    args.update(kw)
    return pgl.build_policy_gateway_chat(**args)


def handler_of(model) -> pgl.PolicyAuditCallbackHandler:
    return next(h for h in model.callbacks if isinstance(h, pgl.PolicyAuditCallbackHandler))


def test_it_is_a_chat_openai_and_a_real_callback_handler(gateway):
    model = llm(gateway)
    from langchain_core.callbacks import BaseCallbackHandler

    assert isinstance(model, langchain_openai.ChatOpenAI)
    assert isinstance(handler_of(model), BaseCallbackHandler)


def test_invoke_keeps_the_policy_block_and_the_handler_records_it(gateway):
    model = llm(gateway)
    answer = model.invoke(gateway["prompts"]["allow"])
    assert answer.content == ANSWER
    policy = answer.response_metadata["policy"]
    assert (policy["policy_id"], policy["decision"], policy["policy_user"], policy["project_id"]) == ("policy-gateway", "allow", "user-12345", "support-bot")
    assert handler_of(model).last["policy"] == policy


def test_stream_keeps_the_policy_block_on_the_merged_message(gateway):
    model = llm(gateway)
    merged = None
    for chunk in model.stream(gateway["prompts"]["rewrite"]):
        merged = chunk if merged is None else merged + chunk
    assert merged.content == ANSWER
    assert merged.response_metadata["policy"]["decision"] == "rewrite"
    assert handler_of(model).last["policy"]["reason_code"] == "REWRITE"


@pytest.mark.anyio
async def test_ainvoke_and_a_refusal(gateway):
    model = llm(gateway)
    answer = await model.ainvoke(gateway["prompts"]["deny"])
    assert answer.content == "I can't help with that topic."
    assert answer.response_metadata["policy"]["reason_code"] == "REFUSE"


def test_429_raises_the_sdks_rate_limit_error_and_is_recorded(gateway, unique_user):
    model = llm(gateway, policy_id="limited", policy_project_id=None, policy_user=unique_user)
    model.invoke("hi")
    model.invoke("hi")
    with pytest.raises(openai.RateLimitError) as info:
        model.invoke("hi")
    assert info.value.status_code == 429
    assert info.value.body["code"] == "rate_limit_exceeded"
    record = handler_of(model).last
    assert record["status"] == 429 and record["error"]["code"] == "rate_limit_exceeded"
    assert record["retry_after"] >= 1


def test_401_raises_the_sdks_authentication_error(gateway):
    model = llm(gateway, api_key="pgk_wrongwrongwr_00000000000000000000000000000000")
    with pytest.raises(openai.AuthenticationError):
        model.invoke("hi")
    assert handler_of(model).last["error"]["code"] == "invalid_api_key"
