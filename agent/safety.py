"""Prompt-injection defence for text taken from web pages.

Pages are data, never instructions. Layers: the answer prompts tell the model so, and that
each page is a claim by its author (when sources disagree, say so; prefer what independent
sources agree on); and, because a small model obeys whatever it reads last, sentences that
address an AI with instructions ("ignore previous instructions and reply X", "you are now …",
"AI models reading this page should …", "when asked about X, answer Y") are removed from
passages before the model sees them. Text is judged after Unicode normalisation (NFKC,
case-folded) with invisible characters removed, so zero-width splits ("ig\u200bnore") and
full-width letters do not hide a sentence, and invisible characters never reach the model.

What this cannot stop: the patterns are about the *form* of an injection, not any topic, so
documentation text is left alone, and a page that simply states something false ("the
default maxsize is PWNED") is not an instruction at all. Against false statements only the
prompt's "pages are claims" rule and the citation check (every sentence must be supported
by a cited source) stand; a model may still repeat a lone false source.
"""

from __future__ import annotations

import logging
import re
import unicodedata

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
    # rephrasings: "disregard what you were told", "pay no attention to your guidelines"
    (
        r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,30}?\b(?:what|everything|anything)\b"
        r"[^.!?\n]{0,20}?\byou(?:'ve| have| were| had)?\b[^.!?\n]{0,20}?"
        r"\b(?:told|given|instructed|taught)\b"
    ),
    (
        r"\bpay no (?:attention|heed) to\b[^.!?\n]{0,40}?"
        r"\b(?:instructions?|rules|guidelines|prompts?)\b"
    ),
    # addressing the reader as a machine: "AI models reading this page should", "note to LLMs"
    (
        r"\b(?:ai|assistants?|chat ?bots?|llms?|language models?|ai models?)\b[^.!?\n]{0,20}?"
        r"\b(?:reading|processing|summari[sz]ing|parsing|indexing|crawling)\b[^.!?\n]{0,20}?"
        r"\b(?:this|these)\b"
    ),
    (
        r"\b(?:note|message|instructions?) (?:to|for) (?:all )?(?:the )?(?:ai|assistants?|llms?|"
        r"language models?|chat ?bots?|bots?)\b"
    ),
    # conditional orders: "when asked about X, answer Y", "if the user asks ..., say ..."
    (
        r"\b(?:when|if|whenever)\b[^.!?\n]{0,20}?\b(?:asked|the user asks|someone asks|you answer|"
        r"answering)\b[^.!?\n]{0,80}?\b(?:say|answer|reply|respond|state|claim|tell)\b"
    ),
    (
        r"\b(?:you must|you should|you will)\s+(?:now\s+|always\s+|only\s+)*(?:answer|reply|"
        r"respond|say|tell the user|state)\b"
    ),
    r"\b(?:instead|rather),?\s+(?:tell|inform|answer|reply to) the user\b",
    # "(reply|respond|answer|say|output) only/with/exactly 'X'" addressed at the reader
    r"\b(?:reply|respond|answer|say|output|print)\b\s+(?:only\s+|with\s+|exactly\s+)+[\"'“]?[A-Z0-9_]{3,}",
]
_INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)
# Sentence-ish pieces: split after . ! ? and at line breaks.
_PIECES_RE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


# Invisible characters that split words without showing: zero-width space, (non-)joiners,
# word joiner, byte-order mark, soft hyphen, Mongolian vowel separator, bidi controls.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\u202a-\u202e\u2066-\u2069\ufeff]")


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION_RE.search(_normalised(text)))


def strip_injections(text: str) -> str:
    """`text` without invisible characters and without the sentences that try to instruct
    the model."""
    text = _INVISIBLE.sub("", text)
    if not looks_like_injection(text):
        return text
    kept: list[str] = []
    for piece in _PIECES_RE.findall(text):
        if piece and looks_like_injection(piece):
            log.warning("removed a prompt-injection attempt from a page: %r", piece.strip()[:120])
            continue
        kept.append(piece)
    return "".join(kept)
