"""Policy Gateway connector for LiteLLM: ``policy_completion`` routes ``litellm.completion`` through the gateway.

Quickstart::

    from policy_gateway_litellm import policy_completion

    response = policy_completion(
        messages=[{"role": "user", "content": "Summarize our refund policy."}],
        policy_id="policy-gateway",
        policy_user="user-12345",
        policy_project_id="support-bot",
    )
    print(response["choices"][0]["message"]["content"])

``litellm`` is imported only when a call is made, so :func:`policy_completion_kwargs` (what is passed to it) works
and is tested without it. For the LiteLLM *proxy*, see ``config.yaml`` next to this package.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["DEFAULT_BASE_URL", "apolicy_completion", "policy_completion", "policy_completion_kwargs", "policy_of"]
__version__ = "0.1.0"

#: Local dev mode: a gateway started with ``npm start`` on this machine.
DEFAULT_BASE_URL = "http://localhost:5000/policy"


def policy_completion_kwargs(
    messages: List[Mapping[str, Any]],
    policy_id: Optional[str] = None,
    policy_user: Optional[str] = None,
    policy_project_id: Optional[str] = None,
    *,
    policy_target: Optional[str] = None,
    model: Optional[str] = None,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """The keyword arguments :func:`policy_completion` passes to ``litellm.completion``.

    ``model`` gets LiteLLM's ``openai/`` prefix (an OpenAI-compatible endpoint at ``api_base``) unless it has one;
    ``api_base`` is the gateway, ``api_key`` the policy key; ``policy_id`` goes in the body (``extra_body``, merged
    into the request body) and user, project and target go in ``extra_headers`` (``X-Policy-User``,
    ``X-Policy-Project``, ``X-Policy-Target``). Unset values fall back to ``POLICY_GATEWAY_MODEL``,
    ``POLICY_GATEWAY_KEY``, ``POLICY_GATEWAY_BASE_URL`` (else ``http://localhost:5000/policy``),
    ``POLICY_GATEWAY_POLICY_ID``, ``POLICY_GATEWAY_PROJECT_ID`` and ``POLICY_GATEWAY_TARGET``. Other keyword
    arguments are LiteLLM's (``stream``, ``temperature``, ``num_retries``, …); ``extra_headers``/``extra_body`` merge.
    """
    env = os.environ
    chosen = model or env.get("POLICY_GATEWAY_MODEL")
    if not chosen:
        raise ValueError("policy_completion needs a model: pass model=... or set POLICY_GATEWAY_MODEL")
    headers: Dict[str, str] = dict(kwargs.pop("extra_headers", None) or {})
    for name, value in (
        ("X-Policy-User", policy_user),
        ("X-Policy-Project", policy_project_id or env.get("POLICY_GATEWAY_PROJECT_ID")),
        ("X-Policy-Target", policy_target or env.get("POLICY_GATEWAY_TARGET")),
    ):
        if value:
            headers[name] = value
    body: Dict[str, Any] = dict(kwargs.pop("extra_body", None) or {})
    pid = policy_id or env.get("POLICY_GATEWAY_POLICY_ID")
    if pid:
        body["policy_id"] = pid
    out: Dict[str, Any] = {
        "model": chosen if chosen.startswith("openai/") else f"openai/{chosen}",
        "messages": list(messages),
        "api_base": base_url or env.get("POLICY_GATEWAY_BASE_URL") or DEFAULT_BASE_URL,
        # LiteLLM's openai provider needs a key; open policies ignore it.
        "api_key": api_key or env.get("POLICY_GATEWAY_KEY") or "no-policy-key",
        "extra_headers": headers,
        "extra_body": body,
    }
    out.update(kwargs)
    return out


def policy_completion(
    messages: List[Mapping[str, Any]],
    policy_id: Optional[str] = None,
    policy_user: Optional[str] = None,
    policy_project_id: Optional[str] = None,
    **kwargs: Any,
):
    """Calls ``litellm.completion`` through Policy Gateway (arguments: :func:`policy_completion_kwargs`).

    Returns LiteLLM's ``ModelResponse``; the gateway's ``policy`` block is on it as ``response.policy`` (read it
    with :func:`policy_of`). Gateway errors raise LiteLLM's exceptions (``RateLimitError`` for 429, …) with the
    status and the gateway's message. Raises ImportError when ``litellm`` is missing.
    """
    return _litellm().completion(**policy_completion_kwargs(messages, policy_id, policy_user, policy_project_id, **kwargs))


async def apolicy_completion(
    messages: List[Mapping[str, Any]],
    policy_id: Optional[str] = None,
    policy_user: Optional[str] = None,
    policy_project_id: Optional[str] = None,
    **kwargs: Any,
):
    """The ``async`` form of :func:`policy_completion` (``litellm.acompletion``)."""
    return await _litellm().acompletion(**policy_completion_kwargs(messages, policy_id, policy_user, policy_project_id, **kwargs))


def policy_of(response: Any) -> Optional[dict]:
    """The gateway's ``policy`` block of a completion: a dict answer, or LiteLLM's ``ModelResponse``, which keeps the
    provider's extra top-level fields as attributes."""
    if isinstance(response, Mapping):
        policy = response.get("policy")
    else:
        policy = getattr(response, "policy", None)
        if policy is None and hasattr(response, "get"):
            try:
                policy = response.get("policy")
            except Exception:  # a ModelResponse without it
                policy = None
    return dict(policy) if isinstance(policy, Mapping) else None


def _litellm():
    try:
        import litellm
    except ImportError as e:
        raise ImportError("policy_completion needs litellm: pip install 'policy-gateway-litellm[litellm]' (or litellm)") from e
    return litellm
