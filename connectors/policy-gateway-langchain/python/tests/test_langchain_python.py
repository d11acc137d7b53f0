"""policy_gateway_langchain without LangChain installed (PyPI is out of reach here): the ChatOpenAI arguments it
builds, the exact HTTP exchange the OpenAI SDK makes from them — sent to the real gateway with the standard library
— and the callback handler and the policy-keeping hooks fed with the gateway's real answers."""

from __future__ import annotations

import importlib.util
import sys
import types
import uuid

import pytest

import policy_gateway_langchain as pgl
from openai_wire import APIStatusErrorShape, chat_request, send

HAVE_LANGCHAIN = importlib.util.find_spec("langchain_openai") is not None
ANSWER = "Hello from the fake upstream. Contact me at [EMAIL]."
ENV = ("POLICY_GATEWAY_BASE_URL", "POLICY_GATEWAY_KEY", "POLICY_GATEWAY_POLICY_ID", "POLICY_GATEWAY_PROJECT_ID", "POLICY_GATEWAY_TARGET", "POLICY_GATEWAY_MODEL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def quickstart_kwargs(gateway: dict, **extra) -> dict:
    """The docs' quickstart arguments, pointed at the test gateway."""
    args = dict(api_key=gateway["key"], policy_id="policy-gateway", policy_user="user-12345", policy_project_id="support-bot", base_url=f"{gateway['url']}/policy", model="fake-model")
    args.update(extra)
    return pgl.policy_chat_kwargs(**args)


def exchange(kwargs: dict, content: str, stream: bool = False, **body):
    """Sends what openai-python sends for ``ChatOpenAI(**kwargs).invoke(content)`` (or ``.stream``)."""
    payload = {"messages": [{"role": "user", "content": content}], "model": kwargs.get("model"), "stream": stream, **body}
    return send(chat_request(kwargs["base_url"], kwargs["api_key"], payload, kwargs["default_headers"], kwargs["extra_body"]))


# --- request building ----------------------------------------------------------------------------------------


def test_the_quickstart_arguments_become_these_chat_openai_arguments():
    assert pgl.policy_chat_kwargs(api_key="YOUR_POLICY_KEY", policy_id="policy-gateway", policy_user="user-12345", policy_project_id="support-bot") == {
        "base_url": "http://localhost:5000/policy",
        "api_key": "YOUR_POLICY_KEY",
        "default_headers": {"X-Policy-User": "user-12345", "X-Policy-Project": "support-bot"},
        "extra_body": {"policy_id": "policy-gateway"},
    }


def test_environment_fallbacks_and_merged_headers_and_body(monkeypatch):
    monkeypatch.setenv("POLICY_GATEWAY_BASE_URL", "https://gateway.example.com/policy")
    monkeypatch.setenv("POLICY_GATEWAY_KEY", "pgk_env")
    monkeypatch.setenv("POLICY_GATEWAY_POLICY_ID", "support-bot")
    monkeypatch.setenv("POLICY_GATEWAY_PROJECT_ID", "proj")
    monkeypatch.setenv("POLICY_GATEWAY_TARGET", "beta-app")
    monkeypatch.setenv("POLICY_GATEWAY_MODEL", "gpt-4o-mini")
    kw = pgl.policy_chat_kwargs(policy_user="u1", temperature=0, default_headers={"X-Trace": "t"}, extra_body={"seed_hint": 1})
    assert kw == {
        "base_url": "https://gateway.example.com/policy",
        "api_key": "pgk_env",
        "default_headers": {"X-Trace": "t", "X-Policy-User": "u1", "X-Policy-Project": "proj", "X-Policy-Target": "beta-app"},
        "extra_body": {"seed_hint": 1, "policy_id": "support-bot"},
        "model": "gpt-4o-mini",
        "temperature": 0,
    }
    # explicit arguments win over the environment
    assert pgl.policy_chat_kwargs(policy_id="policy-gateway", base_url="http://localhost:5000/v1")["extra_body"] == {"policy_id": "policy-gateway"}
    # no key anywhere: a placeholder, because ChatOpenAI insists on one and open policies ignore it
    monkeypatch.delenv("POLICY_GATEWAY_KEY")
    assert pgl.policy_chat_kwargs()["api_key"] == "no-policy-key"


@pytest.mark.skipif(HAVE_LANGCHAIN, reason="langchain-openai is installed here")
def test_building_the_model_says_what_to_install_when_langchain_openai_is_missing():
    with pytest.raises(ImportError, match="langchain-openai"):
        pgl.build_policy_gateway_chat(api_key="k", policy_id="policy-gateway")


# --- the HTTP exchange ChatOpenAI makes, sent to the real gateway --------------------------------------------


def test_invoke_exchange_reaches_the_policy_with_user_and_project(gateway, unique_user):
    kw = quickstart_kwargs(gateway, policy_user=unique_user)
    status, headers, body = exchange(kw, gateway["prompts"]["allow"])
    assert status == 200
    assert body["choices"][0]["message"]["content"] == ANSWER
    assert body["policy"]["policy_id"] == "policy-gateway"
    assert (body["policy"]["policy_user"], body["policy"]["project_id"]) == (unique_user, "support-bot")
    assert headers["x-policy-decision"] == "allow"


def test_stream_exchange_ends_with_the_policy_chunk(gateway):
    status, headers, chunks = exchange(quickstart_kwargs(gateway), gateway["prompts"]["allow"], stream=True, stream_options={"include_usage": True})
    assert status == 200
    assert chunks[-1] == "[DONE]"
    policy_chunk = chunks[-2]
    assert policy_chunk["choices"] == [] and policy_chunk["policy"]["decision"] == "allow"
    assert "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks[:-1] if c["choices"]) == ANSWER


# --- the hooks and the handler, fed with the gateway's real answers ------------------------------------------


@pytest.fixture()
def chat_class(monkeypatch):
    """PolicyGatewayChatOpenAI built on a stand-in ``langchain_openai.ChatOpenAI`` (LangChain is not installable here).

    The stand-in does what langchain-openai's base class does with an answer, reduced to the parts the hooks touch
    (langchain-ai/langchain libs/partners/openai/langchain_openai/chat_models/base.py): ``_create_chat_result``
    returns a ChatResult whose generations' messages have a ``response_metadata`` dict and whose ``llm_output``
    holds the completion ``id`` — and no ``policy``; ``_convert_chunk_to_generation_chunk`` returns a chunk with an
    empty message for a chunk without choices.
    """
    if HAVE_LANGCHAIN:
        pytest.skip("the real langchain-openai is installed: use it instead of a stand-in")

    class Message(types.SimpleNamespace):
        pass

    class ChatOpenAI:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def _create_chat_result(self, response, generation_info=None):
            gens = [types.SimpleNamespace(message=Message(content=c["message"]["content"], response_metadata={}, id=None)) for c in response["choices"]]
            return types.SimpleNamespace(generations=gens, llm_output={"id": response["id"], "model_name": response["model"]})

        def _convert_chunk_to_generation_chunk(self, chunk, default_chunk_class, base_generation_info):
            content = "".join((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices", []))
            return types.SimpleNamespace(message=Message(content=content, response_metadata={}), text=content)

    module = types.ModuleType("langchain_openai")
    module.ChatOpenAI = ChatOpenAI
    monkeypatch.setitem(sys.modules, "langchain_openai", module)
    monkeypatch.setattr(pgl, "_CHAT_CLASS", None)
    yield pgl._policy_chat_class()
    pgl._CHAT_CLASS = None


def test_build_wires_the_arguments_and_the_audit_handler(chat_class, gateway):
    handler = pgl.PolicyAuditCallbackHandler()
    other = object()
    llm = pgl.build_policy_gateway_chat(api_key="k", policy_id="policy-gateway", policy_user="user-12345", policy_project_id="support-bot", audit_handler=handler, callbacks=[other], temperature=0)
    assert isinstance(llm, chat_class) and chat_class.__name__ == "PolicyGatewayChatOpenAI"
    assert llm.kwargs["callbacks"] == [other, handler]
    assert llm.kwargs["default_headers"] == {"X-Policy-User": "user-12345", "X-Policy-Project": "support-bot"}
    assert llm.kwargs["extra_body"] == {"policy_id": "policy-gateway"}
    assert (llm.kwargs["base_url"], llm.kwargs["api_key"], llm.kwargs["temperature"]) == ("http://localhost:5000/policy", "k", 0)


@pytest.mark.parametrize("prompt,decision,reason", [("allow", "allow", "ALLOW"), ("deny", "refuse", "REFUSE"), ("rewrite", "rewrite", "REWRITE")])
def test_invoke_answers_keep_the_policy_block_and_the_handler_records_it(chat_class, gateway, prompt, decision, reason):
    kw = quickstart_kwargs(gateway)
    llm = chat_class(**kw)
    _, _, answer = exchange(kw, gateway["prompts"][prompt])
    result = llm._create_chat_result(answer)
    assert result.generations[0].message.response_metadata["policy"]["decision"] == decision
    assert result.llm_output["policy"]["reason_code"] == reason
    records = []
    handler = pgl.PolicyAuditCallbackHandler(on_record=records.append)
    run_id = uuid.uuid4()
    # what BaseChatModel.generate hands the callbacks: LLMResult(generations=[chat_result.generations], llm_output=…)
    handler.on_llm_end(types.SimpleNamespace(generations=[result.generations], llm_output=result.llm_output), run_id=run_id)
    assert records == [{"run_id": str(run_id), "at": records[0]["at"], "status": 200, "policy": answer["policy"], "response_id": answer["id"]}]
    assert records[0]["at"].endswith("Z")


def test_stream_chunks_keep_the_policy_block_on_the_merged_message(chat_class, gateway):
    kw = quickstart_kwargs(gateway)
    llm = chat_class(**kw)
    _, _, chunks = exchange(kw, gateway["prompts"]["allow"], stream=True)
    converted = [llm._convert_chunk_to_generation_chunk(c, None, {}) for c in chunks if c != "[DONE]"]
    carrying = [g for g in converted if "policy" in g.message.response_metadata]
    assert len(carrying) == 1 and carrying[0] is converted[-1]
    # what LangChain's chunk merge produces (response_metadata dicts merged): the policy survives on the message
    merged = types.SimpleNamespace(message=types.SimpleNamespace(content="".join(g.text for g in converted), response_metadata={k: v for g in converted for k, v in g.message.response_metadata.items()}, id=None))
    assert merged.message.content == ANSWER
    handler = pgl.PolicyAuditCallbackHandler()
    handler.on_llm_end(types.SimpleNamespace(generations=[[merged]], llm_output=None), run_id="r1")
    assert handler.last["policy"]["decision"] == "allow"
    assert handler.policies() == [chunks[-2]["policy"]]


@pytest.mark.parametrize("case", ["401", "403", "404", "429"])
def test_the_handler_records_gateway_errors_as_the_openai_sdk_raises_them(gateway, unique_user, case):
    overrides = {
        "401": {"api_key": "pgk_wrongwrongwr_00000000000000000000000000000000"},
        "403": {"api_key": gateway["limitedKey"]},
        "404": {"policy_id": "no-such-policy"},
        "429": {"policy_id": "limited", "policy_project_id": None, "policy_user": unique_user},
    }[case]
    kw = quickstart_kwargs(gateway, **overrides)
    if case == "429":
        for _ in range(2):
            assert exchange(kw, "hi")[0] == 200
    status, headers, body = exchange(kw, gateway["prompts"]["allow"])
    assert status == int(case)
    handler = pgl.PolicyAuditCallbackHandler()
    handler.on_llm_error(APIStatusErrorShape(status, headers, body), run_id="r-err")
    record = handler.last
    assert record["status"] == status
    assert record["error"] == body["error"]
    assert record["request_id"] == headers["x-request-id"]
    if case == "429":
        assert record["retry_after"] == int(headers["retry-after"]) >= 1
        assert record["error"]["code"] == "rate_limit_exceeded"
    else:
        assert "retry_after" not in record


def test_handler_bounds_its_records():
    handler = pgl.PolicyAuditCallbackHandler(max_records=2)
    for i in range(3):
        handler.on_llm_end(types.SimpleNamespace(generations=[[types.SimpleNamespace(message=types.SimpleNamespace(response_metadata={"policy": {"n": i}}, id=None))]], llm_output=None), run_id=i)
    assert handler.policies() == [{"n": 1}, {"n": 2}]
    with pytest.raises(ValueError):
        pgl.PolicyAuditCallbackHandler(max_records=0)


def test_policy_from_response_reads_dicts_and_sdk_models_with_extra_fields():
    block = {"policy_id": "p", "decision": "allow"}
    assert pgl.policy_from_response({"id": "x", "policy": block}) == block
    assert pgl.policy_from_response(types.SimpleNamespace(policy=block)) == block
    assert pgl.policy_from_response(types.SimpleNamespace(model_extra={"policy": block})) == block
    assert pgl.policy_from_response({"id": "x"}) is None
