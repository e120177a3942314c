"""Prompt-injection defence for text taken from web pages.

Pages are data, never instructions. Two layers: the answer prompts tell the model so, and —
because a small model obeys whatever it reads last — sentences that address an AI with
instructions ("ignore previous instructions and reply X", "you are now …", "system
prompt: …") are removed from passages before the model sees them. The patterns are about
the *form* of an injection, not any topic, so documentation text is left alone.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_INJECTION_PATTERNS = [
    # "ignore/disregard/forget (all) (the) previous/prior/above instructions/rules/prompts"
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}?\b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b[^.!?\n]{0,30}?\b(?:instructions?|rules|prompts?|directions|guidelines|context)\b",
    # "you are now DAN", "from now on you will"
    r"\byou are now\b",
    r"\bfrom now on,? you\b",
    # "new instructions:", "system prompt:", "assistant:" role spoofing
    r"\b(?:new|updated|real) instructions?\s*:",
    r"\bsystem prompt\b",
    r"(?:^|\n)\s*(?:system|assistant)\s*:",
    r"<\|[a-z_]+\|>",  # chat-template special tokens smuggled into a page
    # "(reply|respond|answer|say|output) only/with/exactly 'X'" addressed at the reader
    r"\b(?:reply|respond|answer|say|output|print)\b\s+(?:only\s+|with\s+|exactly\s+)+[\"'“]?[A-Z0-9_]{3,}",
]
_INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)
# Sentence-ish pieces: split after . ! ? and at line breaks.
_PIECES_RE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION_RE.search(text))


def strip_injections(text: str) -> str:
    """`text` without the sentences that try to instruct the model."""
    if not looks_like_injection(text):
        return text
    kept: list[str] = []
    for piece in _PIECES_RE.findall(text):
        if piece and looks_like_injection(piece):
            log.warning("removed a prompt-injection attempt from a page: %r", piece.strip()[:120])
            continue
        kept.append(piece)
    return "".join(kept)
