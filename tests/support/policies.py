"""Retrieval policies for tests, built the way the application builds them."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from retrieval.policy import RetrievalPolicy
from wiring import retrieval_policy


def policy_for(**fields: Any) -> RetrievalPolicy:
    """The retrieval policies of `Settings(**fields)`, as the application builds them."""
    return retrieval_policy(Settings(**fields))
