"""Subcommands that are imported when they run, so ``ablab --help`` loads none of them.

Importing every subcommand module at start-up loaded the client, the services, the stores
and ``ablab.stats`` (scipy alone ~0.8 s): ``ablab --help`` took 1.2 s where importing typer
and rich takes 0.06 s (bench/cli_start.py measures both). The root group here knows each
subcommand by a :class:`Subcommand`, its name, where it lives and the line ``ablab --help``
shows, and imports the module only when the command is resolved to run (which includes
``ablab experiment --help``: a group's help lists its own commands).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import MarkupMode, TyperCommand, TyperGroup

if TYPE_CHECKING:
    # typer carries its own copy of click; these are the classes its groups pass around.
    from typer._click import Command, Context

__all__ = ["COMMAND_PACKAGE", "LazyCommand", "LazyGroup", "Subcommand"]

COMMAND_PACKAGE = "ablab.cli."


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A subcommand of a :class:`LazyGroup`, known without importing it.

    Attributes:
        name: what the user types, e.g. ``experiment``.
        target: ``module:attribute``, a ``typer.Typer`` (a group of commands) or a command
            function, registered as ``app.add_typer`` or ``app.command`` would.
        help: the line the parent's ``--help`` shows (the command's own first paragraph;
            tests/cli/test_startup.py keeps the two equal).
    """

    name: str
    target: str
    help: str

    def __post_init__(self) -> None:
        # Targets are written in main.py's table, never read from input; holding them to
        # ablab's own command modules keeps import_module from loading anything else.
        if not self.target.startswith(COMMAND_PACKAGE) or ":" not in self.target:
            raise ValueError(f"a subcommand lives in {COMMAND_PACKAGE}*:name, not {self.target}")

    def load(self, rich_markup_mode: MarkupMode) -> Command:
        """Import the target and build its command as a parent Typer app with this
        ``rich_markup_mode`` would."""
        module_name, _, attribute = self.target.partition(":")
        found: object = getattr(importlib.import_module(module_name), attribute)
        holder = typer.Typer(rich_markup_mode=rich_markup_mode)
        if isinstance(found, typer.Typer):
            holder.add_typer(found, name=self.name)
        elif callable(found):
            holder.command(name=self.name)(found)
        else:
            raise TypeError(f"{self.target} is neither a Typer app nor a command function")
        return typer.main.get_group(holder).commands[self.name]


class LazyCommand(TyperCommand):
    """Stands for a :class:`Subcommand` in its parent's command list until it is run.

    The parent's help reads only ``name`` and ``help``. Running it (the parent calls
    :meth:`make_context`) builds the real command, and the context made is the real one's,
    so the real command parses the arguments, prints its own help and is invoked.
    """

    def __init__(self, subcommand: Subcommand, **attrs: Any) -> None:
        super().__init__(subcommand.name, help=subcommand.help, **attrs)
        self.subcommand = subcommand
        self._loaded: Command | None = None

    def load(self) -> Command:
        if self._loaded is None:
            self._loaded = self.subcommand.load(self.rich_markup_mode)
        return self._loaded

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Context | None = None,
        **extra: Any,
    ) -> Context:
        return self.load().make_context(info_name, args, parent, **extra)


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands are the :class:`Subcommand` entries of ``subcommands``.

    Use it as ``typer.Typer(cls=...)`` with a subclass that sets ``subcommands``; they come
    after any command registered on the Typer app itself, in the order given.
    """

    subcommands: ClassVar[tuple[Subcommand, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for subcommand in self.subcommands:
            self.add_command(LazyCommand(subcommand, rich_markup_mode=self.rich_markup_mode))
