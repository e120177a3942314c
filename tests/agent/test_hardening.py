"""Regressions of the hostile probe (issue 15) at the agent's Python API, over the scripted
model and real loopback servers."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest
from megrez_search.agent.api import AskRequest
from megrez_search.retrieval.search import ProviderNotOfferedError

from tests.support.servers import send, serve_routes


def test_a_request_cannot_bring_its_own_searxng_url(offline_settings, scripted_agent):
    """Item 1: the old agent built `searxng:URL` from the request and GET the URL."""
    hits: list[str] = []

    def internal_admin(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        send(handler, b'{"results": []}', content_type="application/json")

    agent, model = scripted_agent(offline_settings, ["never used"], dialect="generic")
    with (
        serve_routes({"/internal-admin/search": internal_admin}) as base,
        pytest.raises(ProviderNotOfferedError, match="choose from: local:none"),
    ):
        agent.stream(AskRequest("q?", provider=f"searxng:{base}/internal-admin"))
    assert hits == [] and model.calls == [] and agent.threads() == []
