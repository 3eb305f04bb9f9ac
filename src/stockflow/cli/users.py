"""``stockflow users``: add users, list them, set a password, stop one and let it back in.

There is no default user and no default password: the first administrator is
made here, ``stockflow users add NAME --role admin``. A password is typed
twice without echo, or read as one line from standard input with
``--password-stdin`` (for scripts); ``--no-password`` makes a user that only
signs in with API tokens (an integration).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockflow.access import rules
from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.cli.acting import audited
from stockflow.cli.options import DbOption, opened
from stockflow.errors import AlreadyExists, InvalidInput, NotFound
from stockflow.stock.rules.access import Role, ScopeKind

if TYPE_CHECKING:
    from stockflow.access.queries import UserView
    from stockflow.bootstrap import Stockflow

users_app = typer.Typer(no_args_is_help=True, help="Users: add, list, passwords, disable, enable")
console = Console()
err = Console(stderr=True)

NameArgument = Annotated[str, typer.Argument(help="User name")]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password as one line from standard input"),
]
ROLES = ", ".join(Role)


@users_app.command("add")
@audited
def add(
    name: Annotated[str, typer.Argument(help="User name: letters, digits, . _ @ -")],
    role: Annotated[str, typer.Option("--role", help=f"One of {ROLES}")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="A location, channel or supplier code the user is limited to (repeat for more); "
            "three_pl, marketplace and supplier users need one",
        ),
    ] = None,
    scope_kind: Annotated[
        str | None,
        typer.Option(
            "--scope-kind",
            help="locations, channels or supplier: what --scope limits another role to",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the user signs in with API tokens")
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a user; the first administrator is made this way."""
    with opened(db) as sf:
        new = rules.NewUser(name, _role(role), tuple(scope or ()), _scope_kind(scope_kind))
        new = new.checked()
        if password_stdin and no_password:
            raise InvalidInput("give --password-stdin or --no-password, not both", field="password")
        if _known(sf, name):
            raise AlreadyExists(f"user {name!r} already exists", field="name")
        password = None if no_password else _new_password(password_stdin)
        view = sf.access.add_user(
            new.name, new.role, password=password, scope=new.scope, scope_kind=new.scope_kind
        )
    signs_in = "with a password" if view.has_password else "with API tokens only"
    console.print(
        f"user {view.name} added: {view.role}, {_scope_text(view)}, signs in {signs_in}",
        highlight=False,
        soft_wrap=True,
    )
    if not view.has_password:
        console.print(f"give it a token: stockflow tokens add {view.name} --name LABEL")


@users_app.command("list")
def list_users(db: DbOption = None) -> None:
    """Every user: role, scope, whether it may sign in, whether it has a password."""
    with opened(db) as sf:
        found = list(every(lambda after: sf.access.users(after=after, limit=MAX_PAGE)))
    table = Table("name", "role", "scope", "active", "password", "created", caption="times in UTC")
    for u in found:
        table.add_row(
            u.name, str(u.role), _scope_text(u), "yes" if u.active else "no",
            "yes" if u.has_password else "no", f"{u.created_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    console.print(table)


@users_app.command("passwd")
@audited
def passwd(name: NameArgument, password_stdin: PasswordStdin = False, db: DbOption = None) -> None:
    """Set a user's password; its browser sessions end, its API tokens go on working."""
    with opened(db) as sf:
        sf.access.user(name)  # an unknown name is refused before anything is typed
        sf.access.set_password(name, _new_password(password_stdin))
    console.print(f"password of {name} changed; its browser sessions have ended", highlight=False)


@users_app.command("disable")
@audited
def disable(name: NameArgument, db: DbOption = None) -> None:
    """Stop a user: its sessions end and its API tokens stop working."""
    with opened(db) as sf:
        sf.access.set_active(name, False)
    console.print(
        f"{name} disabled: its sessions have ended and its tokens no longer work "
        "(a running server notices within 10 s)",
        highlight=False,
        soft_wrap=True,
    )


@users_app.command("enable")
@audited
def enable(name: NameArgument, db: DbOption = None) -> None:
    """Let a stopped user sign in again; its unexpired, unrevoked tokens work again."""
    with opened(db) as sf:
        sf.access.set_active(name, True)
    console.print(f"{name} enabled", highlight=False)


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a role; one of {ROLES}", field="role") from None


def _scope_kind(text: str | None) -> ScopeKind | None:
    if text is None:
        return None
    try:
        return ScopeKind(text)
    except ValueError:
        kinds = ", ".join(ScopeKind)
        raise InvalidInput(f"{text!r} is not one of {kinds}", field="scope_kind") from None


def _known(sf: Stockflow, name: str) -> bool:
    try:
        sf.access.user(name)
    except NotFound:
        return False
    return True


def _new_password(from_stdin: bool) -> str:
    """A password read as one line from standard input, or typed twice without echo."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput("nothing on standard input", field="password")
        return rules.password(line)
    while True:
        typed: str = typer.prompt("Password", hide_input=True)
        try:
            rules.password(typed)
        except InvalidInput as exc:
            err.print(f"the password {exc.detail}; type another", highlight=False)
            continue
        if typer.prompt("Repeat it", hide_input=True) != typed:
            raise InvalidInput("the two entries differ", field="password")
        return typed


def _scope_text(user: UserView) -> str:
    if user.scope_kind is None:
        return "no scope limit"
    return f"{user.scope_kind}: {', '.join(user.scope)}"
