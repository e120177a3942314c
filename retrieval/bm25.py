"""BM25 scores of passages for a query (`bm25s`), the lexical ranking under every pick."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import bm25s
import numpy as np

from retrieval.query import tokenize
from retrieval.types import Passage

# bm25s sets its logger to DEBUG on import and logs every index it builds: one line per
# ranking of a question's passages, which buried the evaluation and benchmark logs.
logging.getLogger("bm25s").setLevel(logging.WARNING)

#: Times a passage's page title counts in its text (BM25F's field weight, simplified): a
#: query word in the title says the whole page is about it ("decimal" in the decimal
#: module's page, not in a float page's "decimal point"). 3 measured best of 1, 2, 3 and 5
#: on both dev sets' context recall (benchmarks/RESULTS.md); headings weighed more lost two
#: Python questions.
TITLE_WEIGHT = 3


def bm25_scores(query: str, passages: Sequence[Passage]) -> np.ndarray:
    """BM25 score of each passage; its page title (`TITLE_WEIGHT` times) and heading path
    count as part of the passage."""
    query_tokens = tokenize(query)
    if not passages or not query_tokens:
        return np.zeros(len(passages), dtype=np.float32)
    corpus = [
        tokenize(" ".join((*[p.title] * TITLE_WEIGHT, *p.heading_path, p.text))) or ["\x00empty"]
        for p in passages
    ]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    known = [token for token in query_tokens if token in retriever.vocab_dict]
    if not known:
        return np.zeros(len(passages), dtype=np.float32)
    return np.asarray(retriever.get_scores(known), dtype=np.float32)
