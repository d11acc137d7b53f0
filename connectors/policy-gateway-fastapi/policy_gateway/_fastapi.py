"""FastAPI glue: who the end user is, the client as a dependency, and gateway errors answered as the gateway did."""

from __future__ import annotations

import os
from typing import Optional

from starlette.requests import Request
from starlette.responses import JSONResponse

from ._client import PolicyGatewayClient, policy_gateway_client_from_env
from ._errors import PolicyGatewayError

#: The request header :func:`policy_user_from_request` falls back to (``POLICY_GATEWAY_USER_HEADER`` overrides; empty: none).
DEFAULT_USER_HEADER = "X-Policy-User"


def policy_user_from_request(request: Request) -> Optional[str]:
    """The end user a request is made for (``policy_user``: per-user quotas and audit), or None.

    In order: ``request.state.policy_user`` (set it in your auth middleware or dependency), the authenticated
    ``request.user`` of Starlette's ``AuthenticationMiddleware`` (its ``identity``, else ``display_name``), then the
    ``X-Policy-User`` request header (``POLICY_GATEWAY_USER_HEADER`` names another; set it empty to ignore headers).
    A header is whatever the caller says: rely on it only behind a proxy that sets it, or set one of the others.
    Usable as a FastAPI dependency: ``policy_user: Optional[str] = Depends(policy_user_from_request)``.
    """
    state_user = getattr(request.state, "policy_user", None)
    if isinstance(state_user, str) and state_user.strip():
        return state_user.strip()
    if "user" in request.scope:
        user = request.scope["user"]
        if getattr(user, "is_authenticated", False):
            for attr in ("identity", "display_name"):
                value = getattr(user, attr, None)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    header = os.environ.get("POLICY_GATEWAY_USER_HEADER", DEFAULT_USER_HEADER)
    if header:
        value = request.headers.get(header)
        if value is not None and value.strip():
            return value.strip()
    return None


def policy_gateway_client(request: Request) -> PolicyGatewayClient:
    """FastAPI dependency: the app's :class:`PolicyGatewayClient` (``app.state.policy_gateway_client``).

    The first call creates it from the environment and stores it on ``app.state``; :func:`install_policy_gateway`
    also closes it at shutdown.
    """
    state = request.app.state
    client = getattr(state, "policy_gateway_client", None)
    if client is None:
        client = policy_gateway_client_from_env()
        state.policy_gateway_client = client
    return client


async def policy_gateway_exception_handler(request: Request, exc: PolicyGatewayError) -> JSONResponse:
    """Answers a :class:`PolicyGatewayError` with the gateway's own status, OpenAI error body and headers."""
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


def install_policy_gateway(app, client: Optional[PolicyGatewayClient] = None) -> PolicyGatewayClient:
    """Wires the connector into a FastAPI/Starlette app and returns the client it uses.

    Stores ``client`` (default: one from the environment) as ``app.state.policy_gateway_client`` for
    :func:`policy_gateway_client`, answers :class:`PolicyGatewayError` with the gateway's error unchanged, and
    closes the client's connections at shutdown.
    """
    client = client or policy_gateway_client_from_env()
    app.state.policy_gateway_client = client
    app.add_exception_handler(PolicyGatewayError, policy_gateway_exception_handler)
    app.add_event_handler("shutdown", client.aclose)
    return client
