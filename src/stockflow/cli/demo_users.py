"""The demo's users: one per role, each with a random password shown once, and an admin token.

There is no fixed demo password. Every password is drawn afresh
(``secrets.token_urlsafe``) when the demo is loaded and printed that once,
with the API token made for the admin; a later run can only say how to set
a new one. A name that is taken already is left as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from stockflow.adapters.paging import MAX_PAGE, every
from stockflow.bootstrap import Stockflow
from stockflow.cli.demo import MARKETPLACE, SUPPLIER
from stockflow.config import Settings
from stockflow.errors import AlreadyExists
from stockflow.stock.rules.access import Role

DEMO_USERS: tuple[tuple[str, Role, tuple[str, ...]], ...] = (
    ("admin", Role.ADMIN, ()),
    ("manager", Role.MANAGER, ()),
    ("sales", Role.SALES, ()),
    ("warehouse", Role.WAREHOUSE, ()),
    ("purchasing", Role.PURCHASING, ()),
    ("read-only", Role.READ_ONLY, ()),
    ("3pl-rtm", Role.THREE_PL, ("RTM",)),  # a logistics partner running the Rotterdam site
    ("marketplace", Role.MARKETPLACE, (MARKETPLACE,)),
    ("supplier", Role.SUPPLIER, (SUPPLIER,)),
)
ADMIN = "admin"
TOKEN_NAME = "demo"  # noqa: S105 (the token's label, not a secret)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A demo user made just now, with its password."""

    name: str
    role: Role
    scope: tuple[str, ...]
    password: str


@dataclass(frozen=True, slots=True)
class DemoAccess:
    """What was made: the logins, the admin's API token, the names left alone."""

    logins: tuple[DemoLogin, ...]
    token: str | None
    taken: tuple[str, ...]


def add_demo_users(sf: Stockflow) -> DemoAccess:
    """A user per role with a fresh random password, and an API token for the demo admin."""
    logins: list[DemoLogin] = []
    taken: list[str] = []
    for name, role, scope in DEMO_USERS:
        password = secrets.token_urlsafe(16)
        try:
            sf.access.add_user(name, role, password=password, scope=scope)
        except AlreadyExists:
            taken.append(name)
            continue
        logins.append(DemoLogin(name, role, scope, password))
    token = None
    if any(login.name == ADMIN for login in logins):
        token = sf.access.issue_token(ADMIN, TOKEN_NAME).secret
    return DemoAccess(tuple(logins), token, tuple(taken))


def base_url() -> str:
    """Where ``stockflow serve`` answers with the configured host and port."""
    settings = Settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def print_logins(console: Console, made: DemoAccess) -> None:
    """The logins and the token as a table and a ready-to-run request; they are not kept."""
    url = base_url()
    table = Table("user", "role", "limited to", "password", title="demo users (shown only now)")
    for login in made.logins:
        table.add_row(login.name, str(login.role), ", ".join(login.scope) or "-", login.password)
    console.print(table)
    if made.taken:
        console.print(f"left as they were (the names exist): {', '.join(made.taken)}")
    console.print(
        f'sign in: POST {url}/api/v1/session with {{"name": "...", "password": "..."}}',
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    if made.token is not None:
        console.print(
            f"API token of {ADMIN} (shown only now):\n"
            f"  curl -H 'Authorization: Bearer {made.token}' {url}/api/v1/session",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    console.print("a new password: stockflow users passwd NAME", highlight=False)


def reminder(sf: Stockflow) -> str:
    """One line for a database loaded before: whether the demo users exist, how to reset one."""
    names = {u.name for u in every(lambda after: sf.access.users(after=after, limit=MAX_PAGE))}
    if not names:
        return "no users yet; make the first administrator: stockflow users add NAME --role admin"
    demo = [name for name, _, _ in DEMO_USERS if name in names]
    if demo:
        return (
            f"demo users exist ({', '.join(demo)}); their passwords were shown once, "
            "set a new one with: stockflow users passwd NAME"
        )
    return (
        "users exist (stockflow users list); set a new password with: stockflow users passwd NAME"
    )
