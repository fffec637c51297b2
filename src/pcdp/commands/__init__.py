"""Command groups of the `pcdp` CLI beyond the core ones in pcdp.cli.

Each module has `register(commands)`, adding its sub-parsers to the `pcdp` sub-parser action
and setting `handler` (a function of the parsed arguments returning the exit code).
"""

import importlib
from types import ModuleType

COMMAND_MODULES: tuple[str, ...] = ("audience", "byom", "instances", "report", "signals")


def command_modules() -> list[ModuleType]:
    return [importlib.import_module(f"pcdp.commands.{name}") for name in COMMAND_MODULES]
