"""The graph's state: one dataclass, with reducers for what accumulates.

`turns` is the conversation and grows across the whole thread (it is what the SQLite
checkpointer keeps). Every other field belongs to the current turn: `turn_input` resets them
all at the start of each turn, so nothing of the last question leaks into the next one.
Values are plain dicts/lists/strings so checkpoints stay readable JSON-like msgpack.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, TypedDict

from langgraph.channels import UntrackedValue

from agent.file_sources import file_fields, is_file_source
from retrieval.titles import clean_title, site_suffix

if TYPE_CHECKING:
    from runtime import Message


def accumulate(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Append `right` to `left`; `None` resets the list (start of a turn)."""
    if right is None:
        return []
    return [*(left or []), *right]


def merge_timings(
    left: dict[str, float] | None, right: dict[str, float] | None
) -> dict[str, float]:
    """Add each step's seconds; `None` resets."""
    if right is None:
        return {}
    merged = dict(left or {})
    for step, seconds in right.items():
        merged[step] = merged.get(step, 0.0) + seconds
    return merged


def add_tokens(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Sum prompt/completion token counts; `None` resets."""
    if right is None:
        return {"prompt": 0, "completion": 0}
    total = dict(left or {"prompt": 0, "completion": 0})
    for key, value in right.items():
        total[key] = total.get(key, 0) + value
    return total


class Source(TypedDict):
    """One numbered source given to the model; the answer cites it as `[n]`."""

    n: int
    url: str
    title: str
    snippet: NotRequired[str]  # the start of the passage the model read (cards, previews)
    site: NotRequired[str]  # the site's name from the page's title, when it gave one
    icon: NotRequired[str]  # the site's icon, a PNG data URI (cards only, never the model)
    # A file given as a source (agent/documents.py): its id, name and page (PDFs).
    doc_id: NotRequired[str]
    file_name: NotRequired[str]
    page: NotRequired[int]


class Context(Source):
    """A source with the passage text the model read (what citations are checked against)."""

    text: str


#: Characters of a passage kept with its source: enough to show what a citation stands for.
SNIPPET_CHARS = 600


def page_context(n: int, url: str, page_title: str, text: str, icon: str | None = None) -> Context:
    """Source `n`, the page at `url` with the passage `text`: its title without a site suffix
    ("… — Python 3.11.2 documentation" is not a fact), and beside it, for the cards and not for
    the model, the site's name and its icon (a PNG data URI)."""
    file = is_file_source(url)
    title = page_title or url
    context = Context(n=n, url=url, title=title if file else clean_title(title), text=text)
    site = "" if file else site_suffix(page_title or "")
    if site:
        context["site"] = site
    if icon:
        context["icon"] = icon
    return context


def source_of(context: Context | Source) -> Source:
    """The numbered source of a context, with a snippet of the passage the model read."""
    source: Source = {"n": context["n"], "url": context["url"], "title": context["title"]}
    if context.get("site"):
        source["site"] = context["site"]
    if context.get("icon"):
        source["icon"] = context["icon"]
    source.update(file_fields(context["url"], context["title"]))  # type: ignore[typeddict-item]
    text = context.get("text") or context.get("snippet") or ""
    snippet = " ".join(str(text).split())
    if snippet:
        source["snippet"] = snippet[:SNIPPET_CHARS].rstrip() + (
            "…" if len(snippet) > SNIPPET_CHARS else ""
        )
    return source


class Turn(TypedDict, total=False):
    """One message of the conversation as the checkpointer keeps it."""

    role: Literal["user", "assistant"]
    content: str  # user: what they typed; assistant: the final answer, citations as [N]
    model_text: str  # user: the text the model saw (with transcript / image text)
    image: str | None
    audio: str | None
    transcript: str | None
    image_text: str | None
    file_names: list[str]  # user: the files attached with this question (the UI's chips)
    native_media: bool  # the model reads the attachments itself (no perception inlined)
    searched: bool
    queries: list[str]
    sources: list[Source]
    citations: list[int]
    error: str | None
    at: str  # ISO time
    # How the answer ended, for the chat to show it again exactly as it was shown live.
    seconds: float | None  # from the question to the recorded answer
    pages_read: int  # pages fetched and read (the summary's "read N pages")
    stopped: bool  # the user stopped it: a partial answer
    model: str  # the model that wrote it


IMAGE_TITLE_CHARS = 60  # of the text read from an image, when it titles a chat


def question_words(turn: Turn) -> str:
    """A question's words, to title its chat: typed, else heard (a voice question's
    transcript), else the start of the text read from its image."""
    typed = str(turn.get("content") or "").strip() or str(turn.get("transcript") or "").strip()
    seen = " ".join(str(turn.get("image_text") or "").split())
    return typed or (f"Image: {seen[:IMAGE_TITLE_CHARS]}" if seen else "")


@dataclass
class AgentState:
    # --- the conversation (kept across turns) ---------------------------------------------
    turns: Annotated[list[Turn], accumulate] = field(default_factory=list)

    # --- this turn's request ------------------------------------------------------------------
    question: str = ""
    image: str | None = None
    audio: str | None = None
    search: bool = True  # the user's toggle: False never searches
    provider: str | None = None  # search provider chain; None = settings.retrieval.search
    max_pages: int | None = None  # pages to read; None = settings.retrieval.pages
    memory_fallback: bool | None = None  # failed search: labelled memory answer; None = setting
    run_id: str = ""  # identifies this turn's run (cancellation)
    deep: bool = False  # deep mode: plan sub-questions, research in rounds (agent/deep)
    started_at: float = 0.0  # wall-clock (time.time) start of the turn; 0: not known
    file_names: list[str] = field(default_factory=list)  # files attached with the question
    owner: str = ""  # whose conversation (and files) this is
    chat_id: str | None = None  # the conversation's public id: its files are searched
    # Collections attached to the conversation: kept for its next turns unless a turn names
    # others (see `turn_input`).
    collections: list[str] = field(default_factory=list)
    files: bool = False  # perceive: the turn has files (its chat's or its collections')

    # --- perceive ---------------------------------------------------------------------------
    user_text: str = ""  # the question as the model reads it
    transcript: str | None = None
    image_text: str | None = None

    # --- decide / rewrite -------------------------------------------------------------------
    will_search: bool = False  # decide chose to search (search, fetch, rank run next)
    search_web: bool = True  # False: the search reads the turn's files only
    decision: str = ""  # why (for logs, eval and the UI)
    call_query: str | None = None  # Megrez: the query argument of its function call
    call_text: str = ""  # Megrez: the function call exactly as the model wrote it
    queries: Annotated[list[str], accumulate] = field(default_factory=list)
    # Generic dialect: the model's query in the documentation's terms, whose best new page is
    # read with those `queries[-1]` found (agent/docs_query.py); None when not written.
    docs_query: str | None = None

    # --- search / fetch / rank ----------------------------------------------------------------
    provider_used: str | None = None
    results: Annotated[list[dict[str, Any]], accumulate] = field(default_factory=list)
    fetched: Annotated[list[dict[str, Any]], accumulate] = field(default_factory=list)
    # Page texts are large and only needed by `rank`: never written to the checkpoint.
    pages: Annotated[list[Any], UntrackedValue] = field(default_factory=list)
    failures: Annotated[list[str], accumulate] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)

    # --- deep research (agent/deep): sub-questions, their notes, rounds and budget -------
    subquestions: list[dict[str, Any]] = field(default_factory=list)  # {text, query, round}
    notes: list[dict[str, Any]] = field(default_factory=list)  # {subquestion, text, sources}
    research_round: int = 0
    research_started: float = 0.0  # wall-clock (time.time) start of the research
    research_cut: str | None = None  # why research ended early: "time", "rounds", "stopped"

    # --- answer / check -----------------------------------------------------------------------
    answer: str = ""
    answered_in_decide: bool = False  # Megrez answered directly instead of calling search
    citations: list[int] = field(default_factory=list)
    citation_checks: list[dict[str, Any]] = field(default_factory=list)
    citation_precision: float | None = None
    error: str | None = None  # a failure that ended the turn early (shown to the user)
    stopped: bool = False  # the caller stopped generation
    loop_cut: bool = False  # a repetition loop was cut off the answer
    unsupported: list[str] = field(default_factory=list)  # answer sentences no source supports
    errors: Annotated[list[str], accumulate] = field(default_factory=list)  # non-fatal
    timings: Annotated[dict[str, float], merge_timings] = field(default_factory=dict)
    tokens: Annotated[dict[str, int], add_tokens] = field(default_factory=dict)


_CONVERSATION_FIELDS = {"turns"}
#: Kept from the conversation's last turn unless the request gives them.
_KEPT_FIELDS = {"collections"}
_UNTRACKED_FIELDS = {"pages"}
_REDUCED = {"queries", "results", "fetched", "failures", "errors", "timings", "tokens"}


def turn_of_message(message: Message) -> Turn:
    """An earlier message given to start a new thread with, as the conversation keeps it."""
    turn: Turn = {
        "role": "user" if message.role == "user" else "assistant",
        "content": message.content,
    }
    if message.role == "user":
        turn["model_text"] = message.content
    return turn


def turn_input(**request: Any) -> dict[str, Any]:
    """The graph input of a new turn: every per-turn field reset, then `request` applied."""
    values: dict[str, Any] = {}
    for item in fields(AgentState):
        if item.name in _CONVERSATION_FIELDS | _UNTRACKED_FIELDS | _KEPT_FIELDS:
            continue
        if item.default_factory is not MISSING:  # reducer lists/dicts: None resets them
            values[item.name] = None if item.name in _REDUCED else item.default_factory()
        else:
            values[item.name] = item.default
    unknown = set(request) - set(values) - _KEPT_FIELDS
    if unknown:
        raise TypeError(f"unknown turn fields: {sorted(unknown)}")
    values.update(request)
    for name in _KEPT_FIELDS:  # not given: the conversation keeps its own
        if values.get(name, ()) is None:
            del values[name]
    return values
