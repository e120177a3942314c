"""`megrez-search model`: inspect and try the configured model runtime directly.

Useful to check a backend (a .gguf file, an HF folder, a vLLM server) before asking the agent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.settings import SECTIONS, Settings

from . import SettingsFromArgs


def register(
    subparsers: argparse._SubParsersAction,
    settings_from_args: SettingsFromArgs,
) -> None:
    parser = subparsers.add_parser(
        "model",
        help="list the embedded model ladder and the active backend, or send it a message",
        description="List the embedded models (size, installed or not, which is active) and "
        "show which backend the model spec selects (and its dialect and modalities), or with "
        "--prompt send one chat message straight to the model (no search, no agent) and "
        "stream the reply.",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="assemble the selected embedded model into the data dir (once) and exit",
    )
    parser.add_argument("--prompt", help="a user message to send to the model")
    parser.add_argument("--system", help="an optional system message")
    parser.add_argument("--image", type=Path, help="attach an image (perceived if needed)")
    parser.add_argument("--audio", type=Path, help="attach a voice clip (perceived if needed)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=lambda args: run_model(args, settings_from_args(args)))

    config = subparsers.add_parser(
        "config",
        help="show every setting, its MEGREZ_* variable and its active value",
        description="Show the active configuration: each setting with the environment "
        "variable that sets it, its value now, and what it does.",
    )
    config.add_argument("--json", action="store_true", help="print one JSON object")
    config.set_defaults(handler=lambda args: run_config(args, settings_from_args(args)))


def run_model(args: argparse.Namespace, settings: Settings) -> int:
    from runtime import (
        InputError,
        Message,
        Sampling,
        Usage,
        load_runtime,
        parse_model_spec,
    )

    if args.install:
        return install_model(settings)
    spec = parse_model_spec(settings.runtime.model)
    if args.prompt is None and args.image is None and args.audio is None and not args.json:
        print_ladder(settings)
    started = time.perf_counter()
    runtime = load_runtime(settings)
    loaded = time.perf_counter()
    info: dict[str, object] = {
        "spec": settings.runtime.model,
        "backend": spec.kind,
        "location": spec.location,
        "model": runtime.model.name,
        "dialect": runtime.dialect,
        "modalities": sorted(runtime.model.modalities),
        "load_s": round(loaded - started, 3),
        "ladder": ladder_rows(settings),
    }
    if args.prompt is None and args.image is None and args.audio is None:
        _print_info(info, args.json)
        return 0
    if not (args.prompt or "").strip() and args.image is None and args.audio is None:
        raise InputError("nothing to send: give --prompt, --image or --audio")
    messages = [Message("system", args.system)] if args.system else []
    user = Message("user", args.prompt or "", image=args.image, audio=args.audio)
    user, perception = runtime.ingest(user)
    messages.append(user)
    usage = Usage()
    sampling = Sampling(max_tokens=args.max_tokens, temperature=args.temperature)
    pieces: list[str] = []
    first_token_at: float | None = None
    generation_started = time.perf_counter()
    for piece in runtime.stream(messages, sampling, usage):
        first_token_at = first_token_at or time.perf_counter()
        pieces.append(piece)
        if not args.json:
            sys.stdout.write(piece)
            sys.stdout.flush()
    finished = time.perf_counter()
    if args.json:
        info.update(
            reply="".join(pieces),
            input={"transcript": perception.transcript, "image_text": perception.image_text},
            tokens={"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
            seconds=round(finished - generation_started, 3),
            ttft_s=round((first_token_at or finished) - generation_started, 3),
        )
        print(json.dumps(info, ensure_ascii=False))
    else:
        print()
    return 0


def _print_info(info: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
        return
    for key, value in info.items():
        if key != "ladder":
            print(f"{key:>10}: {value}")


def ladder_rows(settings: Settings) -> list[dict[str, object]]:
    """The embedded models: spec, model, size, installed, ready (assembled), active."""
    from runtime import ladder

    active = (
        ladder.rung(settings.runtime.model).spec
        if ladder.is_embedded(settings.runtime.model)
        else None
    )
    return [
        {
            "spec": item.spec,
            "model": item.model,
            "size_mb": round(item.size / 1e6),
            "installed": item.is_installed(),
            "ready": item.is_ready(settings.store.models_dir),
            "active": item.spec == active,
            "install": item.install,
        }
        for item in ladder.LADDER
    ]


def print_ladder(settings: Settings) -> None:
    print("embedded models (--model SPEC or MEGREZ_MODEL):")
    for row in ladder_rows(settings):
        state = "ready" if row["ready"] else "installed" if row["installed"] else "not installed"
        mark = "*" if row["active"] else " "
        hint = "" if row["installed"] else f"  ({row['install']})"
        print(f" {mark} {row['spec']:<15} {row['model']:<36} {row['size_mb']:>5} MB  {state}{hint}")
    print()


def install_model(settings: Settings) -> int:
    """Assemble the selected embedded model (the default unless --model says otherwise)."""
    from runtime import ladder

    spec = settings.runtime.model if ladder.is_embedded(settings.runtime.model) else ladder.PREFIX
    item = ladder.rung(spec)
    path = ladder.gguf_path(item, settings.store.models_dir)
    print(f"{item.spec}: {item.model} ready at {path}")
    return 0


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    values = settings.model_dump(mode="json")
    if args.json:
        print(json.dumps(values, ensure_ascii=False))
        return 0
    for number, (section, kind) in enumerate(SECTIONS.items()):
        print(f"{'' if number == 0 else chr(10)}[{section}]")
        for name, field in kind.model_fields.items():
            env = f"MEGREZ_{name.upper()}"
            value = values[section][name]
            print(f"{env:<30} = {value!s:<40} {field.description or ''}".rstrip())
    return 0
