"""The prediction service's doors, as plain ASGI middlewares (starlette's BaseHTTPMiddleware costs
every request a task): a bearer token checked before anything else, then a body limit that
counts bytes as they arrive.

- BearerToken: `Authorization: Bearer <token>` compared with the service's token in constant
  time (hmac.compare_digest of SHA-256 digests, so not even the length leaks); anything else is
  a 401 with `WWW-Authenticate: Bearer`, before a byte of the body is read. The API's
  description (/docs, /openapi.json) stays readable: it holds nothing the repository does not.
- BodyLimit: a declared Content-Length over the limit is a 413 at once; a body without one
  (chunked) is counted chunk by chunk as `receive()` hands it over and refused with a 413 the
  moment it passes the limit, so no more than the limit (plus one chunk) is ever held. The app
  then gets the whole body in one message.
"""
from __future__ import annotations

import hashlib
import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


class BearerToken:
    """401 unless the request carries the service's bearer token (PUBLIC_PATHS excepted)."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.digest = app, hashlib.sha256(token.encode()).digest()

    def allowed(self, header: bytes | None) -> bool:
        scheme, _, given = (header or b"").partition(b" ")
        digest = hashlib.sha256(given.strip()).digest()
        return hmac.compare_digest(digest, self.digest) and scheme.lower() == b"bearer"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS \
                and not self.allowed(_header(scope, b"authorization")):
            reply = JSONResponse({"detail": "a bearer token is required (Authorization: Bearer <token>); "
                                            "missing or wrong"}, 401, headers={"WWW-Authenticate": "Bearer"})
            await reply(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over `max_bytes`, declared or counted as it arrives; the app gets it whole."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": f"request body over {self.max_bytes} bytes (serve.max_body_mb)"}, 413,
                            headers={"Connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        del chunks

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)
