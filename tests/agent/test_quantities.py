"""Quantities a sentence states twice, in two units (agent/quantities.py)."""

from __future__ import annotations

import pytest

from agent.quantities import restatements


@pytest.mark.parametrize(
    ("sentence", "same"),
    [
        ("The default is 900 seconds (15 minutes).", {"900": {"15"}, "15": {"900"}}),
        ("默认是 900 秒（15 分钟）。", {"900": {"15"}, "15": {"900"}}),
        ("It waits 2 hours, or 120 min.", {"2": {"120"}, "120": {"2"}}),
        ("A 1 KB buffer holds 1024 bytes.", {"1": {"1024"}, "1024": {"1"}}),
        ("A 1 KB buffer holds 1000 bytes.", {"1": {"1000"}, "1000": {"1"}}),
        ("The pause is 5 deciseconds (0.5 seconds).", {"5": {"0.5"}, "0.5": {"5"}}),
    ],
)
def test_one_quantity_in_two_units_is_one_claim(sentence, same):
    assert restatements(sentence) == same


@pytest.mark.parametrize(
    "sentence",
    [
        "The default is 900 seconds (16 minutes).",  # not the same time
        "It keeps 60 seconds of history and 60 bytes of state.",  # another dimension
        "It retries 3 times, 60 seconds apart.",  # one quantity with a unit
        "Python 3.11 was released in 2022.",  # no units at all
    ],
)
def test_different_quantities_are_separate_claims(sentence):
    assert restatements(sentence) == {}
