"""Model runtime: one interface (`ChatModel`), one small module per backend, one registry.

runtime = load_runtime(settings)          # settings.runtime.model picks the backend
for chunk in runtime.stream([Message("user", "Hi")], Sampling()):
    ...
"""

from .base import (
    ChatFormat,
    ChatModel,
    Choice,
    InputError,
    Message,
    ModelCallError,
    ModelLoadError,
    ModelRuntimeError,
    Sampling,
    Usage,
)
from .registry import load_model, load_runtime, parse_model_spec
from .runtime import Perception, Runtime

__all__ = [
    "ChatFormat",
    "ChatModel",
    "Choice",
    "InputError",
    "Message",
    "ModelCallError",
    "ModelLoadError",
    "ModelRuntimeError",
    "Perception",
    "Runtime",
    "Sampling",
    "Usage",
    "load_model",
    "load_runtime",
    "parse_model_spec",
]
