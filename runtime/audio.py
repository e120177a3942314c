"""Audio in bounded memory: probe a clip's length, decode at most `max_audio_s` of it, and
tell silence from sound before any speech model loads.

A 10-minute clip decodes to 9.6 M samples at 16 kHz; decoding stops as soon as a clip runs
past the limit instead of reading it all and then refusing it, and digital silence is
answered without Whisper ("no speech") at once.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import RuntimeSettings

from .base import InputError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from av import AudioFrame

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
#: Peak amplitude (of 1.0 full scale) below which a clip is silence: about -60 dBFS, under
#: any microphone's noise floor, so only generated or muted audio is this quiet.
SILENCE_PEAK = 1e-3
_FORMATS = "use a common audio format such as WAV, MP3, OGG, FLAC or M4A"


def _too_long(path: Path, seconds: float, settings: RuntimeSettings) -> InputError:
    return InputError(
        f"audio file {path} is {seconds:.0f} s long, more than the "
        f"{settings.max_audio_s:.0f} s allowed; trim it or raise MEGREZ_MAX_AUDIO_S"
    )


def _unreadable(path: Path, exc: BaseException) -> InputError:
    log.info("could not decode audio %s: %r", path, exc)
    if isinstance(exc, (IndexError, StopIteration)):
        reason = "it holds no audio stream"
    else:  # FFmpeg errors carry a readable `strerror`; their str() adds errno and path
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"could not read audio file {path}: {reason}; {_FORMATS}")


def probe_audio(path: Path, settings: RuntimeSettings) -> float | None:
    """The clip's declared length in seconds (None if the container does not say), reading
    only its header. Raises `InputError` for unreadable files, no audio, or a clip too long."""
    import av

    if not path.is_file():
        raise InputError(f"audio file {path} does not exist; check the path")
    try:
        with av.open(str(path)) as container:
            stream = next(s for s in container.streams if s.type == "audio")
            if container.duration:
                seconds: float | None = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = None
    except Exception as exc:  # PyAV raises many types (InvalidDataError, ValueError, ...)
        raise _unreadable(path, exc) from exc
    if seconds is not None and seconds > settings.max_audio_s:
        raise _too_long(path, seconds, settings)
    return seconds


def decode_audio(path: Path, settings: RuntimeSettings) -> np.ndarray:
    """Mono float32 samples at 16 kHz, at most `settings.max_audio_s` of them.

    Decoding stops at the limit (`InputError`), so memory stays bounded whatever the file
    claims about its length.
    """
    import av
    import numpy as np

    probe_audio(path, settings)
    cap = int(settings.max_audio_s * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise IndexError("no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            # Frame by frame (a list of all frames would hold the whole clip): None flushes.
            frames: Iterator[AudioFrame | None] = container.decode(audio=0)
            for frame in itertools.chain(frames, [None]):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    total += len(samples)
                    if total > cap:
                        raise _too_long(path, total / SAMPLE_RATE, settings)
                    chunks.append(samples)
    except InputError:
        raise
    except Exception as exc:  # PyAV raises many types (InvalidDataError, ValueError, ...)
        raise _unreadable(path, exc) from exc
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def is_silent(samples: np.ndarray) -> bool:
    """True when no sample rises above the silence threshold (or there are none)."""
    import numpy as np

    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK
