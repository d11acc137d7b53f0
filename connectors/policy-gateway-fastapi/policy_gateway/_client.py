"""The asynchronous Policy Gateway client (httpx): chat completions as JSON, as parsed SSE chunks, or proxied."""

from __future__ import annotations

import json
import os
from typing import Any, AsyncIterator, Dict, Mapping, Optional

import anyio
import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._errors import PolicyGatewayError, local_error

#: Local dev mode: a gateway started with ``npm start`` on this machine.
DEFAULT_BASE_URL = "http://localhost:5000/policy"

#: Body fields the client owns; whatever the caller's body holds under these names is replaced.
POLICY_FIELDS = ("policy_id", "policy_user", "policy_project_id", "policy_target")

#: Response headers not passed on by :meth:`PolicyGatewayClient.proxy_chat_completions` (hop-by-hop and framing).
_DROP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "content-encoding"})


class PolicyGatewayClient:
    """Sends chat completions to Policy Gateway with the policy metadata set by the server, never by the caller.

    Every argument falls back to an environment variable (see :func:`policy_gateway_client_from_env`). One client
    holds one httpx connection pool: create it once per app and close it with :meth:`aclose` (or ``async with``).
    Bounds: ``timeout`` seconds to connect and between received bytes (a stream may run longer, chunk after chunk),
    ``max_response_bytes`` for a JSON answer and for one SSE event.
    """

    def __init__(
        self,
        *,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        policy_id: Optional[str] = None,
        policy_project_id: Optional[str] = None,
        policy_target: Optional[str] = None,
        timeout: float = 60.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key
        self.policy_id = policy_id
        self.policy_project_id = policy_project_id
        self.policy_target = policy_target
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._transport = transport
        self._http: Optional[httpx.AsyncClient] = None

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), transport=self._transport, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        """Closes the connection pool (a later call opens a new one)."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> "PolicyGatewayClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def build_request(
        self,
        body: Mapping[str, Any],
        *,
        policy_user: Optional[str] = None,
        policy_id: Optional[str] = None,
        policy_project_id: Optional[str] = None,
        policy_target: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> httpx.Request:
        """The HTTP request for ``body``: the caller's ``policy_*`` fields dropped, the client's (or these) set."""
        if not isinstance(body, Mapping):
            raise local_error(400, "the request body must be a JSON object", "invalid_body", "invalid_request_error")
        out: Dict[str, Any] = {k: v for k, v in body.items() if k not in POLICY_FIELDS}
        pid = policy_id or self.policy_id
        if not pid:
            raise local_error(500, "no policy id: pass policy_id or set POLICY_GATEWAY_POLICY_ID", "policy_gateway_misconfigured")
        out["policy_id"] = pid
        for name, value in (("policy_project_id", policy_project_id or self.policy_project_id), ("policy_target", policy_target or self.policy_target), ("policy_user", policy_user)):
            if value:
                out[name] = value
        headers = {"content-type": "application/json", "accept": "text/event-stream" if out.get("stream") is True else "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if request_id:
            headers["x-request-id"] = request_id
        return self._client().build_request("POST", self.endpoint, content=json.dumps(out).encode(), headers=headers)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._client().send(request, stream=True)
        except httpx.TimeoutException as e:
            raise local_error(504, f"the policy gateway did not answer within {self.timeout:g} s", "gateway_timeout") from e
        except httpx.TransportError as e:
            raise local_error(502, f"the policy gateway could not be reached at {self.endpoint}: {e!r}", "gateway_unreachable") from e

    async def _read_bounded(self, response: httpx.Response) -> bytes:
        chunks = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise local_error(502, f"the policy gateway's answer is larger than {self.max_response_bytes} bytes", "response_too_large")
                chunks.append(chunk)
        except httpx.TimeoutException as e:
            raise local_error(504, f"the policy gateway stopped sending for {self.timeout:g} s", "gateway_timeout") from e
        except httpx.TransportError as e:
            raise local_error(502, f"the policy gateway's answer broke off: {e!r}", "gateway_unreachable") from e
        finally:
            await response.aclose()
        return b"".join(chunks)

    async def _raise_for_error(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        raw = await self._read_bounded(response)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        raise PolicyGatewayError(response.status_code, body if isinstance(body, dict) else {}, response.headers)

    async def chat_completions(self, body: Mapping[str, Any], *, policy_user: Optional[str] = None, **metadata: Optional[str]) -> dict:
        """Sends a non-streaming chat completion and returns the gateway's JSON answer, ``policy`` block included.

        ``metadata`` may override ``policy_id``, ``policy_project_id``, ``policy_target`` and set ``request_id``.
        Raises :class:`PolicyGatewayError` for every error answer (status, OpenAI error body, ``retry_after``).
        A body with ``"stream": true`` is refused: use :meth:`stream_chat_completions` or :meth:`proxy_chat_completions`.
        """
        if isinstance(body, Mapping) and body.get("stream") is True:
            raise local_error(400, "chat_completions() answers JSON: use stream_chat_completions() or proxy_chat_completions() for \"stream\": true", "stream_not_supported", "invalid_request_error")
        response = await self._send(self.build_request(body, policy_user=policy_user, **metadata))
        await self._raise_for_error(response)
        raw = await self._read_bounded(response)
        try:
            answer = json.loads(raw)
        except ValueError as e:
            raise local_error(502, "the policy gateway's answer is not JSON", "gateway_bad_response") from e
        if not isinstance(answer, dict):
            raise local_error(502, "the policy gateway's answer is not a JSON object", "gateway_bad_response")
        return answer

    async def stream_chat_completions(self, body: Mapping[str, Any], *, policy_user: Optional[str] = None, **metadata: Optional[str]) -> AsyncIterator[dict]:
        """Sends a streaming chat completion and yields each SSE chunk as a dict, as it arrives.

        The last chunk before ``[DONE]`` carries the ``policy`` block (with ``choices: []``). An error answer raises
        :class:`PolicyGatewayError` before the first chunk; an error event in the stream raises it with status 502.
        Closing the iterator early (``break``, cancellation) closes the gateway request.
        """
        out = dict(body) if isinstance(body, Mapping) else body
        if isinstance(out, dict):
            out["stream"] = True
        response = await self._send(self.build_request(out, policy_user=policy_user, **metadata))
        try:
            await self._raise_for_error(response)
            async for data in _sse_data(response, self.max_response_bytes, self.timeout):
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
                    raise PolicyGatewayError(502, chunk, response.headers)
                yield chunk
        finally:
            await response.aclose()

    async def proxy_chat_completions(self, body: Mapping[str, Any], *, policy_user: Optional[str] = None, **metadata: Optional[str]) -> Response:
        """Forwards ``body`` (JSON or ``"stream": true``) and returns the gateway's answer as a Starlette response.

        Status, body and headers (``Retry-After``, ``X-Policy-*``, ``X-Request-Id``, rate limits) pass through
        unchanged, errors included; an SSE answer is streamed chunk by chunk. When your client disconnects, the
        gateway request is closed. Only a gateway that cannot be reached raises :class:`PolicyGatewayError`.
        """
        response = await self._send(self.build_request(body, policy_user=policy_user, **metadata))
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _DROP_HEADERS}
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return GatewayStreamResponse(response, headers)
        raw = await self._read_bounded(response)
        return Response(raw, status_code=response.status_code, headers=headers)


class GatewayStreamResponse(Response):
    """An SSE answer of the gateway relayed to the app's client chunk by chunk, as the bytes arrive.

    When the client disconnects, the gateway connection is closed *from the side* (its socket), so the pending read
    ends with an error and httpx/httpcore clean up on their normal path. Cancelling that read instead (what
    Starlette's ``StreamingResponse`` does) leaks the connection on httpcore < 0.17.3, whose close is not
    cancellation-safe (encode/httpcore#726): the gateway would then keep streaming to nobody.
    """

    def __init__(self, upstream: httpx.Response, headers: Mapping[str, str]) -> None:
        self.upstream = upstream
        self.status_code = upstream.status_code
        self.background = None
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstream = self.upstream

        async def close_when_client_leaves() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            await _close_socket(upstream)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(close_when_client_leaves)
                try:
                    await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                    async for chunk in upstream.aiter_bytes():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except (httpx.TransportError, OSError):
                    pass  # the client left (its socket closed ours) or the gateway broke off: nothing more to relay
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await upstream.aclose()


async def _close_socket(response: httpx.Response) -> None:
    """Closes the connection a streamed response arrives on (httpx's documented ``network_stream`` extension)."""
    stream = response.extensions.get("network_stream")
    if stream is not None:
        try:
            await stream.aclose()
        except Exception:  # already closed or broken: the goal is reached either way
            pass


async def _sse_data(response: httpx.Response, limit: int, timeout: float) -> AsyncIterator[str]:
    """Yields the ``data`` of each SSE event (several ``data:`` lines joined by ``\\n``); an event over ``limit`` bytes is an error."""
    buf = b""
    scanned = 0  # bytes of buf already searched for an event end (a long event is not rescanned per chunk)
    try:
        async for chunk in response.aiter_bytes():
            buf += chunk
            while True:
                start = max(0, scanned - 3)
                ends = [i for i in (buf.find(b"\n\n", start), buf.find(b"\r\n\r\n", start)) if i != -1]
                if not ends:
                    scanned = len(buf)
                    break
                end = min(ends)
                sep = 4 if buf[end:end + 4] == b"\r\n\r\n" else 2
                event, buf = buf[:end], buf[end + sep:]
                scanned = 0
                lines = [line[5:].lstrip(b" ") if line.startswith(b"data:") else None for line in event.replace(b"\r\n", b"\n").split(b"\n")]
                data = [d for d in lines if d is not None]
                if data:
                    yield b"\n".join(data).decode("utf-8")
            if len(buf) > limit:
                raise local_error(502, f"an SSE event of the policy gateway is larger than {limit} bytes", "response_too_large")
    except httpx.TimeoutException as e:
        raise local_error(504, f"the policy gateway stopped sending for {timeout:g} s", "gateway_timeout") from e
    except httpx.TransportError as e:
        raise local_error(502, f"the policy gateway's stream broke off: {e!r}", "gateway_unreachable") from e


def policy_gateway_client_from_env(**overrides: Any) -> PolicyGatewayClient:
    """A :class:`PolicyGatewayClient` configured from the environment (keyword arguments win).

    ``POLICY_GATEWAY_BASE_URL`` (default ``http://localhost:5000/policy``, local dev mode), ``POLICY_GATEWAY_KEY``,
    ``POLICY_GATEWAY_POLICY_ID``, ``POLICY_GATEWAY_PROJECT_ID``, ``POLICY_GATEWAY_TARGET`` and
    ``POLICY_GATEWAY_TIMEOUT`` (seconds, default 60).
    """
    env = os.environ
    timeout = env.get("POLICY_GATEWAY_TIMEOUT")
    config: Dict[str, Any] = {
        "base_url": env.get("POLICY_GATEWAY_BASE_URL") or None,
        "api_key": env.get("POLICY_GATEWAY_KEY") or None,
        "policy_id": env.get("POLICY_GATEWAY_POLICY_ID") or None,
        "policy_project_id": env.get("POLICY_GATEWAY_PROJECT_ID") or None,
        "policy_target": env.get("POLICY_GATEWAY_TARGET") or None,
    }
    if timeout:
        try:
            config["timeout"] = float(timeout)
        except ValueError as e:
            raise ValueError(f"POLICY_GATEWAY_TIMEOUT must be a number of seconds, not {timeout!r}") from e
    config.update(overrides)
    return PolicyGatewayClient(**config)
