"""The sections of `Settings`, one class per layer that reads configuration.

Each field reads `MEGREZ_<FIELD>` from the environment whatever its section, so a field's name
is unique across all sections (`core.settings` relies on it to route `Settings(pages=3)`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_PAGES = 20  # pages one question may read: beyond this the context budget drops them anyway


def _default_data_dir() -> Path:
    return Path(user_data_dir("megrez-search", appauthor=False))


class Section(BaseSettings):
    """One section: its fields read `MEGREZ_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="MEGREZ_", extra="forbid")


class RuntimeSettings(Section):
    """The model runtime: which model, how it runs, what it hears."""

    model: str = Field(
        "embedded",
        description="Model spec: 'embedded', a .gguf path, an HF folder, 'omni:PATH' "
        "or 'openai:BASE_URL[#MODEL]'.",
    )
    models: str = Field(
        "",
        description="More model specs a chat can pick in the UI, comma-separated (e.g. "
        "'embedded,openai:http://host:8000/v1#megrez'); the first chat uses `model`.",
    )
    dialect: Literal["auto", "megrez", "generic"] = Field(
        "auto", description="Prompt protocol; 'auto' picks megrez for Megrez models."
    )
    n_ctx: int = Field(4096, description="Context window for llama.cpp models.")
    n_threads: int | None = Field(None, description="CPU threads for llama.cpp (default: all).")
    llamacpp_state_cache_entries: int = Field(
        8,
        ge=0,
        description="Prompt states llama.cpp keeps so a prompt sharing a prefix with a recent "
        "one (the decide step's system prompt) skips it; 0 turns the cache off.",
    )
    llamacpp_state_cache_mib: int = Field(
        512, ge=0, description="Memory bound of those saved llama.cpp states, in MiB."
    )
    device: str = Field("auto", description="torch device for transformers backends.")
    static_cache: bool = Field(
        False,
        description="transformers backend: decode from preallocated key/value tensors "
        "(batch rows bucketed 1, 2, 4, 8, 16) instead of a growing cache; the same greedy "
        "tokens. Off until measured on a GPU (benchmarks/RESULTS.md).",
    )
    cuda_graphs: bool = Field(
        False,
        description="transformers backend on CUDA: capture each decode step shape once as a "
        "CUDA graph and replay it (implies MEGREZ_STATIC_CACHE; ignored on CPU; a failed "
        "capture falls back to plain steps).",
    )
    openai_api_key: SecretStr = Field(
        SecretStr("EMPTY"), description="API key for openai: backends."
    )
    request_timeout_s: float = Field(120.0, description="Timeout of one model call (openai:).")
    openai_modalities: str = Field(
        "text", description="What an openai: server accepts besides text: 'image', 'audio'."
    )
    model_stall_timeout_s: float = Field(
        120.0, description="A model call that yields nothing for this long is a failure."
    )
    audio_language: str | None = Field(
        None, description="Language code of spoken questions, e.g. 'en' (default: detect)."
    )
    max_audio_s: float = Field(600.0, description="Longest audio clip accepted, in seconds.")

    @property
    def model_choices(self) -> list[str]:
        """The model specs a chat can use: `model` first, then `models`, without repeats."""
        specs = [self.model, *(part.strip() for part in self.models.split(","))]
        return list(dict.fromkeys(spec for spec in specs if spec))


class StoreSettings(Section):
    """Where data lives: the data folder, the database, the conversations' writer lease."""

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: SecretStr = Field(
        SecretStr(""),
        description="postgresql://user:password@host/db puts conversations, users and API "
        "keys in PostgreSQL (shared by replicas); empty = SQLite in the data dir.",
    )
    database_pool_size: int = Field(
        10, ge=2, description="PostgreSQL connections one process keeps open at most."
    )
    turn_wait_s: float = Field(
        30.0,
        ge=0,
        description="How long a turn waits while another process writes the same conversation "
        "before it answers 'busy'.",
    )
    turn_lease_s: float = Field(
        300.0,
        gt=0,
        description="Lease of a conversation's writer; a process that died mid-answer blocks "
        "its conversation at most this long. Renewed while the answer is written.",
    )

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def page_cache_path(self) -> Path:
        return self.data_dir / "page-cache.sqlite"

    @property
    def conversations_path(self) -> Path:
        return self.data_dir / "conversations.sqlite"


class RetrievalSettings(Section):
    """Search, fetching, ranking and documents read as sources."""

    search: str = Field("ddg", description="Search provider chain, comma-separated.")
    search_choices: str = Field(
        "",
        description="More provider chain entries (besides MEGREZ_SEARCH's) that a request, "
        "from the API or the UI, may choose, e.g. 'local:pydocs,ddg'. A request picks only "
        "among configured entries, never a URL of its own.",
    )
    pages: int = Field(5, ge=1, le=MAX_PAGES, description="Pages to fetch per question.")
    allow_hosts: str = Field(
        "", description="Comma-separated hosts or networks exempt from the SSRF guard."
    )
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    fetch_deadline_s: float = Field(20.0, description="Total time for all pages of a question.")
    max_page_bytes: int = Field(5_000_000, description="Download cap per page.")
    max_redirects: int = 5
    fetch_concurrency: int = 8
    page_cache_ttl_s: int = Field(24 * 3600, description="Expiry of cached pages.")
    context_tokens: int = Field(1500, description="Token budget of passages given to the model.")
    passages_per_source: int = 3
    search_queries: int = Field(
        3,
        ge=1,
        le=3,
        description="Queries per question, results fused: the model's query, the user's "
        "keywords, identifiers spelt out (1 = the model's query only).",
    )
    rerank: bool = Field(False, description="Semantic reranking with all-MiniLM-L6-v2.")
    passage_spans: bool = Field(
        True,
        description="Give the model the sentences and rows of the best passages that match "
        "the question, with their neighbours, instead of whole passages (more of what matters "
        "in fewer tokens: see generic_context_tokens).",
    )
    search_timeout_s: float = Field(10.0, description="Timeout of one search provider call.")
    search_backoff_s: float = Field(
        30.0, description="First cool-down of a rate-limited provider; doubles, capped at 15 min."
    )
    ddg_backend: str = Field(
        "duckduckgo",
        description="ddgs backend(s) for the ddg provider, e.g. 'duckduckgo' or 'auto'.",
    )
    crawl_concurrency: int = Field(4, description="Parallel requests while crawling a site.")
    crawl_max_pages: int = Field(10_000, description="Most pages one `index` run visits.")
    document_max_mb: float = Field(
        20.0, gt=0, description="Largest file (PDF, DOCX, text, image) read as a source, in MB."
    )
    document_max_pages: int = Field(
        500, ge=1, description="Most pages of a PDF read as a source; a longer one is refused."
    )
    document_ocr_pages: int = Field(
        20,
        ge=0,
        description="Pages of a scanned PDF (no text layer) read by OCR; a longer one is refused "
        "(0 = never OCR a PDF).",
    )
    document_max_unpacked_mb: float = Field(
        100.0, gt=0, description="Largest unpacked size of a DOCX's contents (zip bombs), in MB."
    )

    @property
    def allowed_hosts(self) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
        """`allow_hosts` split into exact host names and IP networks."""
        names: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in (part.strip() for part in self.allow_hosts.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.lower())
        return names, networks


class AgentSettings(Section):
    """How the agent decides, writes queries, answers, checks citations, researches (deep)."""

    history_turns: int = Field(
        2, description="Earlier user turns (with their answers) the model sees; 0 = none."
    )
    answer_max_tokens: int = Field(384, description="Longest answer written from sources.")
    chat_max_tokens: int = Field(512, description="Longest answer when nothing is searched.")
    generic_context_tokens: int | None = Field(
        600,
        description="Passage budget for generic-dialect models, below context_tokens: small "
        "models answer better from less text, and on a CPU each 100 prompt tokens of the 1.5B "
        "cost about 1.1 s. With passage spans, 600 holds the answer for 92% of the dev set's "
        "search questions (whole passages: 96% at 900, 81% at 600), and the 1.5B answers as "
        "many dev questions right as from 900 tokens of whole passages (the git manual's: one "
        "fewer of 30), ~3 s sooner. None = context_tokens.",
    )
    read_ahead: bool = Field(
        True,
        description="While the search runs, have the model read the answer prompt's part "
        "before the passages (system prompt, conversation), so the answer reads only the rest "
        "(llama.cpp; other backends ignore it).",
    )
    answer_temperature: float = Field(0.0, description="Sampling temperature of answers.")
    answer_repetition_penalty: float = Field(
        1.1, description="Repetition penalty of answers (keeps small models out of loops)."
    )
    decide_bias: float = Field(
        0.0,
        description="Generic dialect: added to the log-likelihood margin of 'search' over "
        "'answer directly' (positive searches more).",
    )
    max_query_words: int = Field(12, description="Longest search query, in words.")
    docs_query: bool = Field(
        False,
        description="Generic dialect: the model also writes a query in the documentation's "
        "own terms (the command, option or function the question is about), and the best page "
        "it finds beyond the keywords' is read too. Off: on the git manual it fetched 0.93 of "
        "the gold pages (0.81 without) but answered one question more in 30, and it costs "
        "~1.2 s per searched question on a 2-core CPU.",
    )
    memory_fallback: bool = Field(
        False,
        description="When a search was needed but failed or found nothing readable: answer "
        "from the model's memory, labelled as unsourced (default: only say what failed).",
    )
    grounding: Literal["remove", "mark", "off"] = Field(
        "mark",
        description="Answer sentences that no passage supports: 'remove' them, 'mark' them "
        "as not found in the sources, or leave them ('off').",
    )
    citation_support: float = Field(
        0.5,
        description="Share of a sentence's content words a passage must contain to support it.",
    )
    followup_max_tokens: int = Field(96, description="Longest follow-up suggestion reply.")
    deep_max_subquestions: int = Field(
        4, ge=2, le=5, description="Deep mode: most sub-questions planned from one question."
    )
    deep_max_rounds: int = Field(
        2, ge=1, le=5, description="Deep mode: most research rounds (plan = round 1)."
    )
    deep_time_budget_s: float = Field(
        60.0, gt=0, description="Deep mode: seconds of research before the answer is written."
    )
    deep_pages_per_query: int = Field(
        3, ge=1, le=MAX_PAGES, description="Deep mode: pages read per sub-question's search."
    )
    deep_followups: int = Field(
        4, ge=1, le=5, description="Deep mode: most new searches one reflection adds."
    )
    deep_note_sentences: int = Field(
        3, ge=1, le=5, description="Deep mode: sentences quoted in each sub-question's note."
    )
    deep_answer_max_tokens: int = Field(
        80, description="Deep mode: longest direct answer written above the sections."
    )


class ServerSettings(Section):
    """Listening, sharing the machine between users, and sign-in."""

    host: str = "127.0.0.1"
    port: int = 7860
    api_port: int = 8000
    demo_docs_port: int = Field(
        8799, description="Loopback port of the Python docs served by `megrez-search demo`."
    )
    ui_concurrency: int = Field(
        16, description="Questions the UI and the API work on at once (other users queue)."
    )
    user_requests_per_minute: int = Field(
        60, ge=0, description="Questions one account may ask per minute (0 = no limit)."
    )
    user_concurrent_turns: int = Field(
        4, ge=0, description="Answers one account may have in progress at once (0 = no limit)."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client (for the login throttle); from others it is ignored.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        for part in (part.strip() for part in value.split(",")):
            if part:
                ipaddress.ip_network(part, strict=False)  # ValueError: a clear settings error
        return value

    login_free_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins of one account before each further attempt must wait "
        "(1 s, doubling); a client address gets four times as many.",
    )
    login_max_wait_s: float = Field(
        300.0, gt=0, description="Longest wait the login throttle asks for, in seconds."
    )
    max_upload_mb: float = Field(
        25.0,
        gt=0,
        description="Largest file the UI accepts and largest API request body (images and "
        "voice clips included), in MB.",
    )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)


class UISettings(Section):
    """The browser chat."""

    followups: bool = Field(
        True, description="Suggest three follow-up questions after each answer in the UI."
    )
    undo_delete_s: float = Field(
        10.0,
        gt=0,
        description="How long a chat deleted in the UI can be restored with Undo, in seconds; "
        "it is then deleted for good.",
    )


class EvaluationSettings(Section):
    """The benchmarks' defaults."""

    eval_questions: Path | None = Field(
        None,
        description="Question file (jsonl) the benchmarks score when given no --questions; "
        "`megrez-search eval` always takes --questions.",
    )
