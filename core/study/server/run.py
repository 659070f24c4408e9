"""Serving a study: open (or create) its database from the collections, bind a socket, run uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.errors import StudyError
from core.study.pack import encode_gray_png
from core.study.server.assign import StudyConfig, StudyDesign, open_study
from core.study.server.db import StudyStore, database_url, shown_url
from core.study.sets import load_items

KEEP_ALIVE_S: Final = 75
"""Seconds an idle rater connection stays open (uvicorn's 5 s default races a rater's next answer under load)."""


@dataclass
class PreparedStudy:
    """A study ready to serve: its store, config, whether it was just created, and the bound socket."""

    store: StudyStore
    config: StudyConfig
    created: bool
    sock: socket.socket
    host: str

    @property
    def base_url(self) -> str:
        port = self.sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}admin?token={self.config.admin_token}"

    @property
    def database(self) -> str:
        return shown_url(self.store.url)


def default_database(collections: Sequence[str]) -> str:
    """``sqlite:///<first collection>/study-server.sqlite``."""
    return database_url(str(Path(collections[0]) / "study-server.sqlite"))


def prepare(
    collections: Sequence[str],
    *,
    db: str | None,
    design: StudyDesign | None,
    consent: str | None,
    completion_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> PreparedStudy:
    """Open the study database (creating the study of the collections' items if it is empty) and bind the port."""
    if not collections:
        raise StudyError("give the collections whose items the study shows")
    if completion_url is not None and not completion_url.startswith(("https://", "http://")):
        raise StudyError(f"--completion-url {completion_url!r} must be an http(s) URL")
    if not 0 <= port <= 65535:
        raise StudyError(f"--port {port} must be in 0..65535")
    if design is not None:
        design.check()
    items = [item for path in collections for item in load_items(path)]
    store = StudyStore(db or default_database(collections))
    try:
        pngs = [encode_gray_png(item.image) for item in items]
        config, created = open_study(store, items, pngs, design=design, consent=consent, completion_url=completion_url)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            raise StudyError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        sock.listen(2048)
    except BaseException:
        store.close()
        raise
    return PreparedStudy(store, config, created, sock, host)


def serve(study: PreparedStudy) -> None:
    """Serve until interrupted (SIGINT/SIGTERM: finish the requests in flight, then close the database)."""
    import uvicorn

    from core.study.server.app import create_app

    app = create_app(study.store, study.config, close_store=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE_S
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[study.sock])
    finally:
        study.store.close()
        study.sock.close()
