"""A fuller FastAPI app: the client as a dependency, gateway errors answered unchanged, and a streaming route.

Run it:  POLICY_GATEWAY_POLICY_ID=policy-gateway uvicorn examples.app:app --port 8000
"""

from typing import Optional

from fastapi import Depends, FastAPI, Request

from policy_gateway import (
    PolicyGatewayClient,
    install_policy_gateway,
    policy_gateway_client,
    policy_user_from_request,
)


def create_app(client: Optional[PolicyGatewayClient] = None) -> FastAPI:
    app = FastAPI()
    install_policy_gateway(app, client)  # app.state client, OpenAI-shaped error answers, close at shutdown

    @app.post("/chat")
    async def chat(
        request: Request,
        client: PolicyGatewayClient = Depends(policy_gateway_client),
        policy_user: Optional[str] = Depends(policy_user_from_request),
    ):
        """JSON in, the gateway's JSON out (policy block included); errors keep their status and headers."""
        return await client.chat_completions(await request.json(), policy_user=policy_user, request_id=request.headers.get("x-request-id"))

    @app.post("/chat/proxy")
    async def chat_proxy(
        request: Request,
        client: PolicyGatewayClient = Depends(policy_gateway_client),
        policy_user: Optional[str] = Depends(policy_user_from_request),
    ):
        """JSON or "stream": true: the gateway's answer passed through as it is, SSE chunk by chunk."""
        return await client.proxy_chat_completions(await request.json(), policy_user=policy_user, request_id=request.headers.get("x-request-id"))

    @app.post("/chat/text")
    async def chat_text(
        request: Request,
        client: PolicyGatewayClient = Depends(policy_gateway_client),
        policy_user: Optional[str] = Depends(policy_user_from_request),
    ):
        """Streams from the gateway, joins the text, and returns it with the decision from the last chunk."""
        text, policy = [], None
        async for chunk in client.stream_chat_completions(await request.json(), policy_user=policy_user):
            for choice in chunk.get("choices", []):
                text.append((choice.get("delta") or {}).get("content") or "")
            policy = chunk.get("policy", policy)
        return {"text": "".join(text), "policy": policy}

    return app


app = create_app()
