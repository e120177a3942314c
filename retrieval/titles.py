"""Page titles as the model should read them: without the site's own suffix.

Sites end every title with their name, often with a version: "functools — Higher-order
functions … — Python 3.11.2 documentation". Given to a model, that suffix leaks into answers
as a fact ("… was added in Python 3.11.2"). `clean_title` drops a trailing segment that names
a site rather than the page: documentation/docs/manual/wiki/reference/home words, a version
number, or a domain name.
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"\s+(?:—|–|-|\||·|::|»)\s+")
_SITE_WORDS = re.compile(
    r"\b(?:documentation|docs?|manual|handbook|wiki|wikipedia|reference|homepage|home page|"
    r"official site|blog|tutorials?)\b",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\b\d+\.\d+(?:\.\d+)*\b")
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")


def _is_site_suffix(segment: str) -> bool:
    segment = segment.strip()
    return bool(
        _SITE_WORDS.search(segment) or _VERSION.search(segment) or _DOMAIN.fullmatch(segment)
    )


def clean_title(title: str) -> str:
    """`title` without trailing site segments; the title itself when nothing else is left."""
    parts = _SEPARATOR.split(title.strip())
    while len(parts) > 1 and _is_site_suffix(parts[-1]):
        parts.pop()
    separators = _SEPARATOR.findall(title.strip())
    cleaned = parts[0]
    for separator, part in zip(separators, parts[1:]):
        cleaned += separator + part
    return cleaned.strip() or title.strip()


def site_suffix(title: str) -> str:
    """The site segment `clean_title` drops ("Python 3.13 documentation"), the first one
    after the page's own title; "" when there is none."""
    parts = _SEPARATOR.split(title.strip())
    dropped: list[str] = []
    while len(parts) > 1 and _is_site_suffix(parts[-1]):
        dropped.insert(0, parts.pop().strip())
    return dropped[0] if dropped else ""
