"""Policy Gateway connector for FastAPI: an async client (httpx), the end user from the request, a dependency.

Quickstart::

    from fastapi import FastAPI, Request
    from policy_gateway import policy_gateway_client_from_env, policy_user_from_request

    app = FastAPI()
    client = policy_gateway_client_from_env()

    @app.post("/chat")
    async def chat(request: Request):
        body = await request.json()
        policy_user = policy_user_from_request(request)
        return await client.chat_completions(body, policy_user=policy_user)
"""

from ._client import DEFAULT_BASE_URL, POLICY_FIELDS, PolicyGatewayClient, policy_gateway_client_from_env
from ._errors import PolicyGatewayError, pass_back_headers
from ._fastapi import (
    DEFAULT_USER_HEADER,
    install_policy_gateway,
    policy_gateway_client,
    policy_gateway_exception_handler,
    policy_user_from_request,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_USER_HEADER",
    "POLICY_FIELDS",
    "PolicyGatewayClient",
    "PolicyGatewayError",
    "install_policy_gateway",
    "pass_back_headers",
    "policy_gateway_client",
    "policy_gateway_client_from_env",
    "policy_gateway_exception_handler",
    "policy_user_from_request",
]
__version__ = "0.1.0"
