"""The process's one I/O loop and its pools: fetches of successive questions and of several
threads run on one event loop and reuse one connection; a pool closes what it drops only
once nobody holds it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from retrieval.io_loop import IO_LOOP, Pool, run_io
from retrieval.pooled_fetch import CLIENTS, fetch_pages_sync
from retrieval.types import Page
from tests.support.policies import policy_for
from tests.support.servers import send, serve_routes

PAGE = b"<html><head><title>Tides</title></head><body><main><p>Spring tides follow the new moon and the full moon.</p></main></body></html>"  # noqa: E501


def test_callers_on_several_threads_share_one_loop() -> None:
    async def loop_thread() -> str:
        return threading.current_thread().name

    with ThreadPoolExecutor(3) as pool:
        names = set(pool.map(lambda _: run_io(loop_thread()), range(6)))
    assert names == {IO_LOOP.name}


def test_an_exception_reaches_the_caller_and_the_loop_goes_on() -> None:
    async def fail() -> None:
        raise ValueError("bad page")

    async def fine() -> int:
        return 7

    with pytest.raises(ValueError, match="bad page"):
        run_io(fail())
    assert run_io(fine()) == 7


def test_the_loop_refuses_to_wait_for_itself() -> None:
    async def inner() -> None:
        return None

    async def nested() -> str:
        coroutine = inner()
        try:
            run_io(coroutine)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "await instead" in run_io(nested())


def test_a_dropped_resource_is_closed_once_nobody_holds_it() -> None:
    closed: list[str] = []

    async def close(name: str) -> None:
        closed.append(name)

    pool: Pool[str] = Pool(lambda key: f"client-{key}", close, size=2)

    async def scenario() -> list[list[str]]:
        seen = []
        async with pool.hold("a") as a:
            assert a == "client-a"
            async with pool.hold("b"), pool.hold("c"):  # "a" is dropped while held
                seen.append(list(closed))
            seen.append(list(closed))
        seen.append(list(closed))  # released: now closed
        async with pool.hold("b") as b:  # still pooled: the same one, not made again
            assert b == "client-b"
        seen.append(list(closed))
        return seen

    assert run_io(scenario()) == [[], [], ["client-a"], ["client-a"]]
    assert len(pool) == 2


def test_successive_questions_and_threads_reuse_one_connection(tmp_path: Path) -> None:
    """Two fetch steps in a row, then two at once from two threads: one client serves them
    all, over the connection the first one opened (the server sees one client port) as long
    as it is free."""
    ports: list[int] = []

    def page(handler: BaseHTTPRequestHandler) -> None:
        ports.append(handler.client_address[1])
        send(handler, PAGE)

    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1", page_cache_ttl_s=0).fetch
    with serve_routes({"/a": page, "/b": page}) as base:
        for path in ("/a", "/b"):
            [fetched] = fetch_pages_sync([f"{base}{path}"], policy)
            assert isinstance(fetched, Page), fetched
        assert len(set(ports)) == 1  # the second question reused the first's connection
        with ThreadPoolExecutor(2) as pool:
            both = list(pool.map(lambda p: fetch_pages_sync([f"{base}/{p}"], policy), "ab"))
        assert all(isinstance(item, Page) for [item] in both), both
    longer = replace(policy, limits=replace(policy.limits, read_timeout_s=99.0))

    async def clients() -> set[int]:
        held = set()
        for each in (policy, policy, longer):
            async with CLIENTS.hold((each.limits, each.guard)) as client:
                held.add(id(client))
        return held

    assert len(run_io(clients())) == 2  # one client per limits and guard, not per call
