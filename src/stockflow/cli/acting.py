"""What a command run from the shell changes goes into the audit trail, under who ran it.

Whoever can run ``stockflow`` against a database holds that database's own
credentials, so the command line acts with the admin role. A command that
changes data is wrapped in ``audited``: the write transactions it commits
carry an audit row (``adapters.audit``) with ``via`` "cli", the command's
path (``stockflow users add``) and its arguments as the target. Options are
left out, since ``--db`` may carry a password. The actor is the
operating-system user, or the ``--actor`` a command that takes one was given.

``serve`` is never wrapped: its requests act for their own callers, and a
principal set around it would leak into their tasks.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from typer._click.core import Context, ParameterSource  # typer carries its own click
from typer._click.globals import get_current_context
from typer.core import TyperArgument

from stockflow.adapters import audit
from stockflow.stock.rules.access import Role

P = ParamSpec("P")
R = TypeVar("R")
_MAX_VALUE = 200  # characters of one argument kept on the row (a long list of lines is cut)


def audited(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command while acting as the shell's user, so that its changes are audited."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with audit.acting_as(acting(get_current_context())):
            return command(*args, **kwargs)

    return run


def acting(ctx: Context) -> audit.Acting:
    """The audit record of the command ``ctx`` runs."""
    path: list[str] = []
    here = ctx
    while here.parent is not None:  # the root's name is however the program was called
        path.insert(0, here.info_name or "")
        here = here.parent
    target = {
        p.name: _text(ctx.params[p.name])
        for p in ctx.command.params
        if isinstance(p, TyperArgument) and p.name and ctx.params.get(p.name) not in (None, [])
    }
    return audit.Acting(
        actor=_actor(ctx),
        role=str(Role.ADMIN),
        via="cli",
        command=" ".join(["stockflow", *path]),
        target=target,
    )


def os_user() -> str:
    """The operating-system user running this process (``cli`` when it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container's numeric user without a passwd entry
        return "cli"


def _actor(ctx: Context) -> str:
    given = ctx.get_parameter_source("actor")
    if given in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        return str(ctx.params["actor"])
    return os_user()


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    return str(value)[:_MAX_VALUE]
