"""`megrez-search`, the console command: the top floor, which may import every layer.

Each area module (agent, ui, accounts, retrieval, eval, runtime) adds its subcommands with
`register(subparsers, settings_from_args)`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.settings import Settings

#: The settings of a parsed command line (`MEGREZ_*` variables with the global flags on top).
SettingsFromArgs = Callable[[argparse.Namespace], Settings]
