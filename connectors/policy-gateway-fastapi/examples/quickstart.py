"""The FastAPI quickstart exactly as the product docs write it (configured by POLICY_GATEWAY_* environment variables).

Run it:  POLICY_GATEWAY_POLICY_ID=policy-gateway uvicorn examples.quickstart:app --port 8000
"""

from fastapi import FastAPI, Request
from policy_gateway import policy_gateway_client_from_env, policy_user_from_request

app = FastAPI()
client = policy_gateway_client_from_env()


@app.post("/chat")
async def chat(request: Request):
    body = await request.json()
    policy_user = policy_user_from_request(request)
    return await client.chat_completions(body, policy_user=policy_user)
