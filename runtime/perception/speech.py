"""Voice -> text: faster-whisper (CPU, int8) on the assembled Whisper-base model, decoding
audio with faster-whisper's own PyAV decoder."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings

from ..audio import SAMPLE_RATE, decode_audio, is_silent
from ..base import ModelLoadError
from .files import check_file
from .whisper_assembly import ensure_whisper_model

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

_whisper_lock = threading.Lock()
_whisper_models: dict[tuple[Path, int], WhisperModel] = {}


def _whisper(settings: Settings) -> WhisperModel:
    """The process-wide WhisperModel for these settings, assembled and loaded on first use."""
    threads = settings.runtime.n_threads or 0  # 0 lets CTranslate2 pick
    key = (settings.store.models_dir, threads)
    with _whisper_lock:
        if key not in _whisper_models:
            from faster_whisper import WhisperModel

            model_dir = ensure_whisper_model(settings)

            def load() -> WhisperModel:
                return WhisperModel(
                    str(model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    local_files_only=True,
                )

            try:
                _whisper_models[key] = load()
            except (RuntimeError, ValueError, OSError) as exc:
                # A same-size but damaged model.bin passes the cheap check: re-hash, rebuild once.
                log.warning("loading Whisper failed (%s); verifying and re-assembling", exc)
                ensure_whisper_model(settings, verify_hash=True)
                try:
                    _whisper_models[key] = load()
                except (RuntimeError, ValueError, OSError) as again:
                    raise ModelLoadError(
                        f"could not load the Whisper model in {model_dir}: {again}"
                    ) from again
        return _whisper_models[key]


def transcribe(path: Path, settings: Settings) -> str:
    """The speech in the audio file at `path` as text ("" when nobody speaks).

    Decodes at most `max_audio_s` (bounded memory); silence is "" at once, without Whisper.
    Raises `InputError` for missing, unreadable or over-long audio.
    """
    check_file(path, "audio")
    audio = decode_audio(path, settings.runtime)
    seconds = len(audio) / SAMPLE_RATE
    if seconds < 0.1 or is_silent(audio):
        log.info("audio %s holds no sound (%.2f s)", path, seconds)
        return ""
    model = _whisper(settings)
    # The VAD filter (Silero, shipped in faster-whisper) drops silence, so Whisper does not
    # hallucinate words ("Thank you.") on clips with no speech.
    segments, info = model.transcribe(
        audio, language=settings.runtime.audio_language or None, vad_filter=True, beam_size=5
    )
    text = " ".join(segment.text.strip() for segment in segments).strip()
    log.info(
        "transcribed %s (%.1f s, language %s): %d chars", path, seconds, info.language, len(text)
    )
    return text
