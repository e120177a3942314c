"""Quantities a sentence states twice, in two units (agent/quantities.py)."""

from __future__ import annotations

import pytest

from agent.quantities import equivalents


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
    assert equivalents(sentence) == same


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
    assert equivalents(sentence) == {}


def test_a_quantity_the_passage_gives_in_another_unit_is_the_same_claim():
    passage = "Callbacks taking longer than 100 milliseconds are logged; 1 KiB is read at once."
    assert equivalents("It defaults to 0.1 seconds.", passage) == {"0.1": {"100"}}
    assert equivalents("It reads 1024 bytes at a time.", passage) == {"1024": {"1"}}
    assert equivalents("It defaults to 0.2 seconds.", passage) == {}
