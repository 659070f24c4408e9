"""The study web service (Starlette): the rater's pages and API, the images, and the organiser's dashboard.

Routes::

    GET  /                       the rater's page (consent, instructions, trials, done); reads PROLIFIC_PID,
                                 STUDY_ID, SESSION_ID or rater from its URL
    POST /api/session            {"begin": bool, PROLIFIC_PID…, rater} -> the rater's stage; sets the cookie
    POST /api/answer             {"trial", "answer", "response_ms"} -> saved (2xx only after commit), next stage
    GET  /image/<trial>.png      the picture of one of the cookie's rater's trials
    GET  /admin?token=…          dashboard; /admin/status.json and /admin/progress.svg (401 without a token,
                                 403 with a wrong one)

Errors are JSON ``{"error": "…"}`` with a 4xx status, and nothing is written. Request bodies are limited to
:data:`MAX_BODY_BYTES`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any, Final

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.errors import StudyError
from core.study.server.assign import (
    Identity,
    Reply,
    RequestError,
    Shown,
    StudyConfig,
    answer,
    parse_answer,
    release_abandoned,
    session,
    trial_image,
)
from core.study.server.db import StudyStore, study_items
from core.study.server.images import clean_png
from core.study.server.status import progress_svg, study_status

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 4096
COOKIE: Final = "invariance_rater"
COOKIE_MAX_AGE: Final = 60 * 60 * 24 * 30
SWEEP_EVERY_S: Final = 60.0
SHOWN_CACHE: Final = 100_000
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _static(name: str) -> str:
    return resources.files("core.study.server").joinpath("static", name).read_text(encoding="utf-8")


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_SECURITY_HEADERS)


class BodyLimit:
    """Refuses (413, JSON) a request whose body is larger than ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await error_response(413, f"request body over {self.limit} bytes")(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class StudyApp:
    """The routes of one study, over its store and config."""

    def __init__(self, store: StudyStore, config: StudyConfig) -> None:
        self.store = store
        self.config = config
        self._pngs: dict[int, bytes] = dict(
            store.read_sync(lambda connection: connection.execute(select(study_items.c.id, study_items.c.png)).all())
        )
        """item row id -> PNG: every item's picture, read once (items never change while a study runs)."""
        self._shown: OrderedDict[str, tuple[str, Shown]] = OrderedDict()
        """trial token -> (rater's cookie id, what it shows), for the trials just handed out (bounded)."""
        self._rater_page = (
            _static("rater.html")
            .replace("{{consent}}", html.escape(config.consent))
            .replace("{{instructions}}", html.escape(config.instructions))
        )

    # --- rater -----------------------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        return HTMLResponse(self._rater_page, headers=_SECURITY_HEADERS)

    async def script(self, request: Request) -> Response:
        name = request.url.path.lstrip("/")
        return Response(_static(name), media_type="text/javascript", headers=_SECURITY_HEADERS)

    async def session(self, request: Request) -> Response:
        data = await _json_body(request)
        identity = Identity.parse(data)
        begin = data.get("begin", False)
        if not isinstance(begin, bool):
            raise RequestError(400, "begin must be true or false")
        cookie = request.cookies.get(COOKIE)
        reply = await self.store.write(
            lambda connection: session(connection, self.config, identity, cookie, begin=begin, now=time.time())
        )
        return self._reply(reply)

    async def answer(self, request: Request) -> Response:
        token, label, response_ms = parse_answer(await _json_body(request))
        cookie = request.cookies.get(COOKIE)
        reply = await self.store.write(
            lambda connection: answer(connection, self.config, cookie, token, label, response_ms, time.time())
        )
        return self._reply(reply)

    def _reply(self, reply: Reply) -> Response:
        response = JSONResponse(reply.body, headers=_SECURITY_HEADERS)
        if reply.public_id is not None:
            response.set_cookie(COOKIE, reply.public_id, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
            if reply.shown is not None:
                self._shown[reply.shown.token] = (reply.public_id, reply.shown)
                while len(self._shown) > SHOWN_CACHE:
                    self._shown.popitem(last=False)
        return response

    async def image(self, request: Request) -> Response:
        token = request.path_params["token"]
        cookie = request.cookies.get(COOKIE)
        known = self._shown.get(token)
        if known is not None and cookie is not None and secrets.compare_digest(known[0], cookie):
            item_pk, clean_index = known[1].item_pk, known[1].clean_index
        else:
            item_pk, clean_index = await self.store.read(lambda connection: trial_image(connection, cookie, token))
        png = clean_png(int(clean_index or 0)) if item_pk is None else self._pngs[item_pk]
        return Response(
            png, media_type="image/png", headers={**_SECURITY_HEADERS, "Cache-Control": "private, max-age=3600"}
        )

    # --- organiser -------------------------------------------------------------------------------------------
    def _authorise(self, request: Request) -> None:
        token = request.query_params.get("token")
        if not token:
            raise RequestError(401, "the dashboard needs ?token=… (printed as the admin URL at start)")
        if not secrets.compare_digest(token.encode(), self.config.admin_token.encode()):
            raise RequestError(403, "wrong admin token")

    async def dashboard(self, request: Request) -> Response:
        self._authorise(request)
        figures = await self.store.read(lambda connection: study_status(connection, self.config))
        page = (
            _static("admin.html")
            .replace("{{study_id}}", html.escape(self.config.study_id))
            .replace("{{plot}}", progress_svg(figures["progress"]))
        )
        return HTMLResponse(page, headers=_SECURITY_HEADERS)

    async def status(self, request: Request) -> Response:
        self._authorise(request)
        figures = await self.store.read(lambda connection: study_status(connection, self.config))
        return JSONResponse(figures, headers=_SECURITY_HEADERS)

    async def plot(self, request: Request) -> Response:
        self._authorise(request)
        figures = await self.store.read(lambda connection: study_status(connection, self.config))
        return Response(progress_svg(figures["progress"]), media_type="image/svg+xml", headers=_SECURITY_HEADERS)


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise RequestError(415, "send the request body as application/json")
    raw = await request.body()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError(400, "the request body must be a JSON object")
    return data


async def _request_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestError)
    return error_response(error.status, str(error))


async def _study_error(request: Request, error: Exception) -> Response:
    return error_response(503, str(error))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = error.detail if error.status_code != 404 else "no such page"
    return error_response(error.status_code, str(message))


def create_app(store: StudyStore, config: StudyConfig, *, close_store: bool = False) -> ASGIApp:
    """The ASGI app of the study ``config`` in ``store``; ``close_store``: close the store at shutdown."""
    study = StudyApp(store, config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweep() -> None:
            while True:
                await asyncio.sleep(SWEEP_EVERY_S)
                try:
                    released = await store.write(lambda connection: release_abandoned(connection, config, time.time()))
                except StudyError as error:
                    log.warning("abandoned-session sweep failed: %s", error)
                else:
                    if released:
                        log.info("returned the trials of %d abandoned raters to the pool", released)

        task = asyncio.create_task(sweep())
        try:
            yield
        finally:
            task.cancel()
            if close_store:
                store.close()

    app = Starlette(
        routes=[
            Route("/", study.page),
            Route("/rater.js", study.script),
            Route("/admin.js", study.script),
            Route("/api/session", study.session, methods=["POST"]),
            Route("/api/answer", study.answer, methods=["POST"]),
            Route("/image/{token:str}.png", study.image),
            Route("/admin", study.dashboard),
            Route("/admin/status.json", study.status),
            Route("/admin/progress.svg", study.plot),
        ],
        exception_handlers={RequestError: _request_error, StudyError: _study_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    return BodyLimit(app)
