"""Policy Gateway connector for LangChain (Python): a ChatOpenAI pointed at the gateway, plus an audit callback.

Quickstart::

    from policy_gateway_langchain import build_policy_gateway_chat

    llm = build_policy_gateway_chat(
        api_key="YOUR_POLICY_KEY",
        policy_id="policy-gateway",
        policy_user="user-12345",
        policy_project_id="support-bot",
    )
    response = llm.invoke("Summarize our refund policy.")
    print(response.content, response.response_metadata["policy"])

``langchain-openai`` and ``langchain-core`` are imported only when a model is built, so the request-building
(:func:`policy_chat_kwargs`) and the callback's bookkeeping work (and are tested) without them.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional

try:  # a real LangChain handler when langchain-core is installed; a plain object otherwise (tests, tooling)
    from langchain_core.callbacks import BaseCallbackHandler as _HandlerBase
except ImportError:  # pragma: no cover - depends on the environment
    _HandlerBase = object  # type: ignore[misc,assignment]

__all__ = [
    "DEFAULT_BASE_URL",
    "PolicyAuditCallbackHandler",
    "attach_policy",
    "build_policy_gateway_chat",
    "policy_chat_kwargs",
    "policy_from_response",
]
__version__ = "0.1.0"

#: Local dev mode: a gateway started with ``npm start`` on this machine.
DEFAULT_BASE_URL = "http://localhost:5000/policy"


def policy_chat_kwargs(
    api_key: Optional[str] = None,
    policy_id: Optional[str] = None,
    policy_user: Optional[str] = None,
    policy_project_id: Optional[str] = None,
    *,
    policy_target: Optional[str] = None,
    base_url: Optional[str] = None,
    model: Optional[str] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """The keyword arguments :func:`build_policy_gateway_chat` passes to ``ChatOpenAI``.

    ``base_url`` and ``api_key`` point the OpenAI client at the gateway; ``policy_id`` goes in every request body
    (``extra_body``: the documented way to send fields the OpenAI API does not define — ``model_kwargs`` would be
    passed to ``create()`` and rejected); user, project and target go in ``default_headers`` as ``X-Policy-User``,
    ``X-Policy-Project`` and ``X-Policy-Target``. Unset values fall back to ``POLICY_GATEWAY_KEY``,
    ``POLICY_GATEWAY_POLICY_ID``, ``POLICY_GATEWAY_PROJECT_ID``, ``POLICY_GATEWAY_TARGET``, ``POLICY_GATEWAY_BASE_URL``
    (else ``http://localhost:5000/policy``) and ``POLICY_GATEWAY_MODEL``. Other keyword arguments are ChatOpenAI's
    own (``temperature``, ``max_retries``, …); ``default_headers`` and ``extra_body`` given here are merged.
    """
    env = os.environ
    headers: Dict[str, str] = dict(kwargs.pop("default_headers", None) or {})
    for name, value in (
        ("X-Policy-User", policy_user),
        ("X-Policy-Project", policy_project_id or env.get("POLICY_GATEWAY_PROJECT_ID")),
        ("X-Policy-Target", policy_target or env.get("POLICY_GATEWAY_TARGET")),
    ):
        if value:
            headers[name] = value
    extra_body: Dict[str, Any] = dict(kwargs.pop("extra_body", None) or {})
    pid = policy_id or env.get("POLICY_GATEWAY_POLICY_ID")
    if pid:
        extra_body["policy_id"] = pid
    out: Dict[str, Any] = {
        "base_url": base_url or env.get("POLICY_GATEWAY_BASE_URL") or DEFAULT_BASE_URL,
        # ChatOpenAI insists on a key; open policies ignore it.
        "api_key": api_key or env.get("POLICY_GATEWAY_KEY") or "no-policy-key",
        "default_headers": headers,
        "extra_body": extra_body,
    }
    chosen_model = model or env.get("POLICY_GATEWAY_MODEL")
    if chosen_model:
        out["model"] = chosen_model
    out.update(kwargs)
    return out


def build_policy_gateway_chat(
    api_key: Optional[str] = None,
    policy_id: Optional[str] = None,
    policy_user: Optional[str] = None,
    policy_project_id: Optional[str] = None,
    *,
    policy_target: Optional[str] = None,
    base_url: Optional[str] = None,
    model: Optional[str] = None,
    audit_handler: Optional["PolicyAuditCallbackHandler"] = None,
    **kwargs: Any,
):
    """Returns a ``ChatOpenAI`` (a subclass that keeps the gateway's ``policy`` block) configured for the gateway.

    Each answer's ``response_metadata["policy"]`` holds the block (``invoke``, and the merged message of
    ``stream``); ``llm_output["policy"]`` too for ``generate``. ``audit_handler`` (default: a new
    :class:`PolicyAuditCallbackHandler`) is added to the model's callbacks and records every answer and error.
    Arguments are those of :func:`policy_chat_kwargs`. Raises ImportError when ``langchain-openai`` is missing.
    """
    chat_class = _policy_chat_class()
    handler = audit_handler if audit_handler is not None else PolicyAuditCallbackHandler()
    callbacks = list(kwargs.pop("callbacks", None) or [])
    callbacks.append(handler)
    config = policy_chat_kwargs(api_key, policy_id, policy_user, policy_project_id, policy_target=policy_target, base_url=base_url, model=model, **kwargs)
    return chat_class(callbacks=callbacks, **config)


_CHAT_CLASS = None


def _policy_chat_class():
    """``ChatOpenAI`` extended, the way LangChain's provider packages do, to keep the non-standard ``policy`` field.

    LangChain's base wrapper targets the official OpenAI API and drops fields a provider adds; provider subclasses
    (langchain-deepseek, langchain-xai) override the two conversion hooks below to keep theirs. So does this one:
    ``_create_chat_result`` for whole answers and ``_convert_chunk_to_generation_chunk`` for the SSE chunk that
    carries the block (``choices: []``, which the base turns into an empty chunk).
    """
    global _CHAT_CLASS
    if _CHAT_CLASS is not None:
        return _CHAT_CLASS
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:
        raise ImportError("build_policy_gateway_chat needs langchain-openai: pip install 'policy-gateway-langchain[langchain]' (or langchain-openai)") from e

    class PolicyGatewayChatOpenAI(ChatOpenAI):
        """ChatOpenAI for Policy Gateway: answers keep the gateway's ``policy`` block in ``response_metadata``."""

        def _create_chat_result(self, response, generation_info=None):
            result = super()._create_chat_result(response, generation_info)
            attach_policy(result, policy_from_response(response))
            return result

        def _convert_chunk_to_generation_chunk(self, chunk, default_chunk_class, base_generation_info):
            generation_chunk = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
            policy = policy_from_response(chunk)
            if generation_chunk is not None and policy is not None:
                generation_chunk.message.response_metadata["policy"] = policy
            return generation_chunk

    _CHAT_CLASS = PolicyGatewayChatOpenAI
    return _CHAT_CLASS


def policy_from_response(response: Any) -> Optional[dict]:
    """The ``policy`` block of a chat completion or chunk (a dict, or an OpenAI SDK model, which keeps extra fields)."""
    if isinstance(response, Mapping):
        policy = response.get("policy")
    else:
        policy = getattr(response, "policy", None)
        if policy is None and hasattr(response, "model_extra"):
            policy = (response.model_extra or {}).get("policy")
    return dict(policy) if isinstance(policy, Mapping) else None


def attach_policy(result: Any, policy: Optional[dict]) -> Any:
    """Puts ``policy`` into a ``ChatResult``: ``llm_output["policy"]`` and each generation's message metadata."""
    if policy is None:
        return result
    if getattr(result, "llm_output", None) is None:
        result.llm_output = {}
    result.llm_output["policy"] = policy
    for generation in getattr(result, "generations", []) or []:
        message = getattr(generation, "message", None)
        if message is not None:
            message.response_metadata["policy"] = policy
    return result


class PolicyAuditCallbackHandler(_HandlerBase):
    """Records each model answer's ``policy`` block and each gateway error, per LangChain run.

    A record is a dict: ``run_id``, ``at`` (ISO 8601), ``status`` (200, or the error's HTTP status), ``policy``
    (the block, when there is one), and for errors ``error`` (the OpenAI error object ``{"message", "type", "param",
    "code"}``) and ``retry_after`` (seconds, on 429). ``records`` keeps the last ``max_records``; ``on_record`` is
    called with each. Thread-safe (LangChain may call handlers from worker threads).
    """

    name = "policy_gateway_audit"
    raise_error = False
    run_inline = True

    def __init__(self, on_record: Optional[Callable[[dict], None]] = None, max_records: int = 1000) -> None:
        if max_records < 1:
            raise ValueError("max_records must be positive")
        if _HandlerBase is not object:
            super().__init__()
        self.on_record = on_record
        self.records: Deque[dict] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def on_llm_end(self, response: Any, *, run_id: Any = None, parent_run_id: Any = None, **kwargs: Any) -> None:
        """LangChain's hook after a model call: one record per generation, with its policy block."""
        llm_output = getattr(response, "llm_output", None) or {}
        for generations in getattr(response, "generations", []) or []:
            for generation in generations:
                message = getattr(generation, "message", None)
                metadata = getattr(message, "response_metadata", None) or {}
                policy = metadata.get("policy") or llm_output.get("policy")
                record = {"run_id": str(run_id), "at": _now(), "status": 200}
                if policy is not None:
                    record["policy"] = policy
                response_id = llm_output.get("id") or getattr(message, "id", None)
                if response_id:
                    record["response_id"] = response_id
                self._add(record)

    def on_llm_error(self, error: BaseException, *, run_id: Any = None, parent_run_id: Any = None, **kwargs: Any) -> None:
        """LangChain's hook after a failed call: the status, OpenAI error body and Retry-After of the gateway's answer."""
        body = getattr(error, "body", None)
        inner = body.get("error", body) if isinstance(body, Mapping) else {}
        if not isinstance(inner, Mapping):
            inner = {}
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None) or {}
        record: Dict[str, Any] = {
            "run_id": str(run_id),
            "at": _now(),
            "status": getattr(error, "status_code", None) or 0,
            "error": {
                "message": inner.get("message", str(error)),
                "type": inner.get("type"),
                "param": inner.get("param"),
                "code": inner.get("code"),
            },
        }
        retry = headers.get("retry-after") if hasattr(headers, "get") else None
        if retry is not None and str(retry).isdigit():
            record["retry_after"] = int(retry)
        request_id = headers.get("x-request-id") if hasattr(headers, "get") else None
        if request_id:
            record["request_id"] = request_id
        self._add(record)

    def _add(self, record: dict) -> None:
        with self._lock:
            self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    @property
    def last(self) -> Optional[dict]:
        """The most recent record, or None."""
        with self._lock:
            return self.records[-1] if self.records else None

    def policies(self) -> List[dict]:
        """The policy blocks recorded so far, oldest first."""
        with self._lock:
            return [r["policy"] for r in self.records if "policy" in r]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
