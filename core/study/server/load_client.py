"""A lean HTTP/1.1 client for the load benchmark: one keep-alive connection per simulated rater, on asyncio.

The benchmark's driver runs on the same cores as the server it measures, so every millisecond it spends on a
request is taken from the server and shows up as latency. A general client (httpx) spends about 1.7 ms of CPU per
request here; this one writes the request bytes itself and reads a reply by its ``Content-Length`` (what uvicorn
sends for every reply of the study server), which costs a small fraction of that. It speaks to 127.0.0.1 only
(plain HTTP), and anything it does not understand (a chunked reply, a broken status line, a closed connection, a
timeout) is a :class:`LoadClientError` naming what, which the benchmark counts as an error.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


class LoadClientError(Exception):
    """A request that did not get a complete HTTP reply; ``str()`` says what went wrong, in a few words."""


@dataclass(frozen=True)
class HttpReply:
    """A reply: status code, headers (lower-case names; the last of repeated ones), cookies set, and body."""

    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_head(raw: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    """(status, headers, cookies set) of a reply's head (status line and header lines, ending in a blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise LoadClientError(f"bad status line {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, separator, value = line.partition(":")
        if not separator:
            raise LoadClientError(f"bad header line {line[:40]!r}")
        name, value = name.strip().lower(), value.strip()
        headers[name] = value
        if name == "set-cookie":
            cookie_name, _, cookie_value = value.split(";", 1)[0].partition("=")
            cookies[cookie_name.strip()] = cookie_value.strip().strip('"')
    return int(parts[1]), headers, cookies


class KeepAliveClient:
    """One keep-alive connection to ``host:port``, opened on the first request and again after a failure."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, cookie: str | None = None
    ) -> HttpReply:
        """Send one request (``body`` as JSON) and read its whole reply; :class:`LoadClientError` on failure."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        try:
            async with asyncio.timeout(self.timeout):
                if self._writer is None or self._reader is None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                reader, writer = self._reader, self._writer
                writer.write((head + "\r\n").encode("latin-1") + payload)
                raw = await reader.readuntil(b"\r\n\r\n")
                status, headers, cookies = parse_head(raw)
                if "transfer-encoding" in headers or "content-length" not in headers:
                    raise LoadClientError("reply without a Content-Length")
                content = await reader.readexactly(int(headers["content-length"]))
        except LoadClientError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise LoadClientError("timeout") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as error:
            self.close()
            raise LoadClientError(type(error).__name__) from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return HttpReply(status, headers, cookies, content)

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
