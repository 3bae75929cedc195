"""What every request passes before it reaches the page or the API, in this order:

1. ``SecurityHeaders``: every response says it may not be framed, sniffed or loaded with
   scripts from other sites, and sends no referrer.
2. ``SameOriginWrites``: a request that changes something (any method but GET, HEAD and
   OPTIONS) from a page of another site is refused, unless that site is allowed
   (``RAG_CORS_ORIGINS``). A form post needs no CORS preflight, so CORS alone would let another
   site's page add articles to a server without a login.
3. ``Login``: the HTTP API (``/api``, ``/v1``, the OpenAPI schema) asks for the page's login or
   the API token *before* anything of the body is read; a client that keeps failing (here or
   at the page's own login form) waits.
4. ``body_limits``: no request body over its limit is read (uploads have a larger one).

CORS itself is Starlette's ``CORSMiddleware`` on the server (see ``ui.app``): with it there,
Gradio adds none of its own, which allowed any origin, with credentials, whenever the server
was reached by a host name.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Scripts from this server only. Gradio needs inline scripts (its config) and ``Function``
#: (event ``js`` and ``gr.HTML`` templates: the page does not render without it; checked in
#: Chromium against the page of this version).
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "media-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Paths under the API's login.
API_PATHS = ("/api/", "/v1/", "/openapi.json")
#: The page's own login form (Gradio's): its failures count too.
PAGE_LOGIN = "/login"
#: Paths whose bodies are uploads.
UPLOAD_PATHS = ("/api/articles", "/gradio_api/upload")
#: The largest body of any other request: a question, or an OpenAI request carrying a long
#: conversation (the chat is kept on the server, so a longer one gains nothing).
BODY_LIMIT = 2_000_000
#: Files one upload request may carry at the largest size each.
FILES_PER_UPLOAD = 4
#: Failed logins a client may make in ``LOGIN_WINDOW`` seconds before it is told to wait:
#: a person mistyping does not reach it; guessing stops at a handful a minute.
LOGIN_FAILURES = 10
LOGIN_WINDOW = 60.0
#: Clients whose failures are remembered at once (the oldest forgotten first).
CLIENTS_REMEMBERED = 10_000


@dataclass(frozen=True)
class Access:
    """Who may use the API: the page's login and an API token; open when neither is set."""

    login: tuple[str, str] | None = None
    token: str | None = None

    @property
    def open(self) -> bool:
        return self.login is None and not self.token

    def allows(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries the login (Basic) or the token."""
        if self.open:
            return True
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.token:
            return _same(value.strip(), self.token)
        if scheme.lower() == "basic" and self.login is not None:
            try:
                pair = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = pair.partition(":")
            return _same(user, self.login[0]) & _same(password, self.login[1])
        return False

    def needed(self) -> str:
        """What a refused client must send, in words."""
        ways = [
            *(["the page's login (RAG_UI_USER, RAG_UI_PASSWORD)"] if self.login else []),
            *(["the API token (RAG_API_TOKEN) as a bearer token"] if self.token else []),
        ]
        return f"{' or '.join(ways)} is needed"


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


class SecurityHeaders:
    """Adds ``HEADERS`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def cross_site(headers: Headers) -> bool:
    """Whether a browser sent the request from a page of another site: its Fetch Metadata
    says so, or (older browsers) its ``Origin`` is not the host it was sent to. Clients that
    are not browsers send neither and are not cross-site."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class SameOriginWrites:
    """Refuses a cross-site request that would change something, unless its origin is one
    that ``RAG_CORS_ORIGINS`` allows."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app, self.allowed = app, {o.rstrip("/") for o in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            if cross_site(headers) and headers.get("origin", "").rstrip("/") not in self.allowed:
                refused = JSONResponse(
                    {"detail": "refused: a request from another site (set RAG_CORS_ORIGINS "
                     "to allow a site you trust)"},
                    403,
                )  # fmt: skip
                return await refused(scope, receive, send)
        await self.app(scope, receive, send)


class Attempts:
    """Failed logins per client in a sliding window."""

    def __init__(self, most: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW) -> None:
        self.most, self.window = most, window
        self._failed: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def waiting(self, client: str) -> float:
        """Seconds ``client`` must wait before its next login attempt (0: none)."""
        now = time.monotonic()
        with self._lock:
            times = self._failed.get(client)
            while times and now - times[0] > self.window:
                times.popleft()
            if not times or len(times) < self.most:
                return 0.0
            return self.window - (now - times[0])

    def failed(self, client: str) -> None:
        with self._lock:
            self._failed.setdefault(client, deque(maxlen=self.most)).append(time.monotonic())
            self._failed.move_to_end(client)
            while len(self._failed) > CLIENTS_REMEMBERED:
                self._failed.popitem(last=False)


class Login:
    """The API's login, checked before the request's body is read; failed logins (here and
    at the page's login form) are counted per client, which waits after too many."""

    def __init__(self, app: ASGIApp, access: Access, attempts: Attempts | None = None) -> None:
        self.app, self.access = app, access
        self.attempts = attempts or Attempts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.access.open or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        path, client = scope["path"], (scope.get("client") or ("",))[0]
        is_api = path.startswith(API_PATHS)
        is_page_login = path == PAGE_LOGIN and scope["method"] == "POST"
        if not (is_api or is_page_login):
            return await self.app(scope, receive, send)
        wait = self.attempts.waiting(client)
        if wait:
            # Every attempt waits, the right one too: else the answer would tell a guesser
            # when it has guessed.
            slow_down = JSONResponse(
                {"detail": f"too many failed logins: try again in {wait:.0f} s"},
                429,
                headers={"Retry-After": str(int(wait) + 1)},
            )
            return await slow_down(scope, receive, send)
        if is_api:
            authorization = Headers(scope=scope).get("authorization", "")
            if self.access.allows(authorization):
                return await self.app(scope, receive, send)
            if authorization:  # a guess; a client that sent nothing is only told what to send
                self.attempts.failed(client)
            refused = JSONResponse(
                {"detail": self.access.needed()},
                401,
                headers={"WWW-Authenticate": "Basic" if self.access.login else "Bearer"},
            )
            return await refused(scope, receive, send)
        await self.app(scope, receive, self._counting(send, client))

    def _counting(self, send: Send, client: str) -> Send:
        """``send``, noting a refusal of the page's login form (Gradio answers it 400)."""

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 401):
                self.attempts.failed(client)
            await send(message)

        return counted


def body_limits(app: ASGIApp, upload_bytes: int) -> ASGIApp:
    """``app`` behind Starlette's body limit: ``BODY_LIMIT`` bytes, or ``FILES_PER_UPLOAD``
    files of ``upload_bytes`` on an upload path. A body over it is refused with 413 as soon as
    its declared length, or what has come of it, is over; nothing past it is read."""
    small = RequestBodyLimitMiddleware(app, BODY_LIMIT)
    large = RequestBodyLimitMiddleware(app, upload_bytes * FILES_PER_UPLOAD + BODY_LIMIT)

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        upload = scope["type"] == "http" and scope["path"] in UPLOAD_PATHS
        await (large if upload else small)(scope, receive, send)

    return limited


def guarded(app: ASGIApp, access: Access, upload_bytes: int, origins: tuple[str, ...]) -> ASGIApp:
    """``app`` behind every guard of this module, in the order the module's text gives."""
    inner = body_limits(app, upload_bytes)
    return SecurityHeaders(SameOriginWrites(Login(inner, access), origins))
