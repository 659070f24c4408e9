"""``bench study-server``: its lean load client reads real replies of the study server, and a short run counts
answers, errors and lost answers from a real ``study serve`` process."""

from __future__ import annotations

import asyncio

import pytest

from core.study.server.bench import bench_study_server
from core.study.server.load_client import KeepAliveClient, LoadClientError, parse_head


def test_parse_head_reads_status_headers_and_cookies() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nset-cookie: invariance_rater=abc-_1; Max-Age=9; HttpOnly\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    status, headers, cookies = parse_head(raw)
    assert status == 200
    assert headers["content-length"] == "12" and headers["content-type"] == "application/json"
    assert cookies == {"invariance_rater": "abc-_1"}


@pytest.mark.parametrize("raw", [b"SPDY 200 OK\r\n\r\n", b"HTTP/1.1 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"])
def test_parse_head_refuses_what_is_not_http(raw: bytes) -> None:
    with pytest.raises(LoadClientError):
        parse_head(raw)


def test_load_client_reports_a_refused_connection() -> None:
    async def attempt() -> None:
        import socket

        with socket.socket() as probe:  # a port that nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await KeepAliveClient("127.0.0.1", port, timeout=5).request("GET", "/")

    with pytest.raises(LoadClientError, match="ConnectionRefusedError"):
        asyncio.run(attempt())


@pytest.mark.slow
def test_a_short_bench_run_counts_every_answer() -> None:
    figures = bench_study_server(raters=4, duration=4.0)
    assert figures["errors"] == 0, figures["error_kinds"]
    assert figures["lost"] == 0
    assert figures["answers"] >= 4  # every rater answered at least once, each acknowledged answer found stored
    assert figures["answer_latency"]["p95_ms"] is not None
    assert figures["requests"] > figures["answers"]  # images were fetched too
