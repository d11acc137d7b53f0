"""Makes the Python connectors' quickstart requests against a running gateway (for connectors/scripts/sample-logs.ts).

Usage: python3 sample_requests.py fastapi|langchain|litellm  — configured by POLICY_GATEWAY_BASE_URL, POLICY_GATEWAY_KEY,
POLICY_GATEWAY_POLICY_ID, POLICY_GATEWAY_PROJECT_ID and POLICY_GATEWAY_MODEL. Prints one line per request
(decision and reason code from the answer's policy block). FastAPI runs the docs' quickstart app itself (Starlette's
TestClient); LangChain and LiteLLM cannot be installed here, so their requests are the HTTP exchange the OpenAI SDK
makes for them (connectors/testing/openai_wire.py), built from the connectors' own argument builders.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONNECTORS = Path(__file__).resolve().parents[1]
USER = "user-12345"
PROMPTS = [
    "Summarize our refund policy.",
    "I want to kill myself, what is the refund policy?",
    "What is the competitor pricing for the refund policy?",
]


def fastapi() -> None:
    sys.path.insert(0, str(CONNECTORS / "policy-gateway-fastapi"))
    from starlette.testclient import TestClient

    from examples.quickstart import app

    with TestClient(app) as client:
        for prompt in PROMPTS:
            r = client.post("/chat", json={"model": os.environ["POLICY_GATEWAY_MODEL"], "messages": [{"role": "user", "content": prompt}]}, headers={"X-Policy-User": USER})
            print(r.status_code, r.json()["policy"]["decision"], r.json()["policy"]["reason_code"])


def langchain() -> None:
    sys.path.insert(0, str(CONNECTORS / "policy-gateway-langchain" / "python"))
    sys.path.insert(0, str(CONNECTORS / "testing"))
    from openai_wire import chat_request, send
    from policy_gateway_langchain import policy_chat_kwargs

    kw = policy_chat_kwargs(policy_user=USER)  # everything else from the environment, as in the quickstart
    body = {"messages": [{"role": "user", "content": PROMPTS[0]}], "model": kw["model"], "stream": False}
    status, _, answer = send(chat_request(kw["base_url"], kw["api_key"], body, kw["default_headers"], kw["extra_body"]))
    print(status, answer["policy"]["decision"], answer["policy"]["reason_code"])


def litellm() -> None:
    sys.path.insert(0, str(CONNECTORS / "policy-gateway-litellm"))
    sys.path.insert(0, str(CONNECTORS / "testing"))
    from openai_wire import chat_request, send
    from policy_gateway_litellm import policy_completion_kwargs

    for prompt in (PROMPTS[0], PROMPTS[2]):
        kw = policy_completion_kwargs([{"role": "user", "content": prompt}], policy_id="policy-gateway", policy_user=USER, policy_project_id="support-bot")
        body = {"model": kw["model"].split("/", 1)[1], "messages": kw["messages"]}
        status, _, answer = send(chat_request(kw["api_base"], kw["api_key"], body, kw["extra_headers"], kw["extra_body"]))
        print(status, answer["policy"]["decision"], answer["policy"]["reason_code"])


if __name__ == "__main__":
    {"fastapi": fastapi, "langchain": langchain, "litellm": litellm}[sys.argv[1]]()
