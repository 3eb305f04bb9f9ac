"""The demo data set that ``scripts/run`` loads: it must load on a fresh database and balance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from helpers import setup_places
from stockflow.access.authenticator import Kind
from stockflow.bootstrap import Stockflow
from stockflow.cli import app as cli_app
from stockflow.cli.app import app
from stockflow.cli.demo import MARKETPLACE, SUPPLIER
from stockflow.cli.demo_users import DEMO_USERS, add_demo_users
from stockflow.orders.rules.parties import NewChannel
from stockflow.receiving.rules.purchasing import NewSupplier
from stockflow.stock.rules.access import Role, ScopeKind

ROW = re.compile(r"^│ (\S+) +│ (\S+) +│ (\S+) +│ (\S+) +│$")
TOKEN = re.compile(r"Authorization: Bearer (sfk_[A-Za-z0-9_-]{43})")


def test_the_demo_loads_once_on_a_fresh_sqlite_file_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_app, "console", Console(width=200))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = CliRunner().invoke(app, ["demo", "--db", url, "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "4 waves, 4 shipments" in " ".join(first.output.split())
    printed = {m[1]: (m[2], m[3], m[4]) for m in map(ROW.match, first.stdout.splitlines()) if m}
    token = TOKEN.search(first.stdout)
    assert token is not None
    assert "POST http://127.0.0.1:8000/api/v1/session" in first.stdout

    again = CliRunner().invoke(app, ["demo", "--db", url, "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "demo data loaded" not in again.output
    assert "demo users exist" in again.stdout
    assert "stockflow users passwd NAME" in again.stdout
    assert not any(password in again.stdout for _, _, password in printed.values())
    sf = Stockflow.open(url)
    try:
        assert sf.verify() == []
        _assert_a_user_per_role_signs_in_with_its_own_password(sf, printed)
        signed = sf.access.authenticator.refresh(Kind.TOKEN, token[1])
        assert signed is not None
        assert (signed.principal.name, signed.principal.role) == ("admin", Role.ADMIN)
        trail = sf.access.audit(command="stockflow demo", limit=1000)
        assert trail
        assert {(e.via, e.role) for e in trail} == {("cli", "admin")}
    finally:
        sf.close()


def _assert_a_user_per_role_signs_in_with_its_own_password(
    sf: Stockflow, printed: dict[str, tuple[str, str, str]]
) -> None:
    users = {u.name: u for u in sf.access.users()}
    assert {u.role for u in users.values()} == set(Role)
    assert set(printed) == set(users)
    passwords = [password for _, _, password in printed.values()]
    assert len(set(passwords)) == len(passwords) == len(Role)  # no two alike
    for name, (role, limited_to, password) in printed.items():
        assert (str(users[name].role), len(password)) == (role, 22)
        assert sf.access.sign_in(name, password).signed.principal.name == name
        assert (", ".join(users[name].scope) or "-") == limited_to
    partners = {u.role: (u.scope_kind, u.scope) for u in users.values() if u.scope}
    assert partners == {
        Role.THREE_PL: (ScopeKind.LOCATIONS, ("RTM",)),
        Role.MARKETPLACE: (ScopeKind.CHANNELS, (MARKETPLACE,)),
        Role.SUPPLIER: (ScopeKind.SUPPLIER, (SUPPLIER,)),
    }
    [po] = sf.receiving.purchase_orders()
    assert (po.supplier, po.location) == (SUPPLIER, "RTM")


def test_demo_users_leave_a_taken_name_alone_and_never_repeat_a_password(sf: Stockflow) -> None:
    setup_places(sf, "RTM")
    sf.orders.add_channel(NewChannel(MARKETPLACE, "Marketplace", "marketplace"))
    sf.receiving.add_supplier(NewSupplier(SUPPLIER, "Nordbolt"))
    sf.access.add_user("admin", Role.ADMIN, password="the real admin's passphrase")
    made = add_demo_users(sf)
    assert made.taken == ("admin",)
    assert made.token is None  # no token is made for a user the demo did not make
    assert [login.name for login in made.logins] == [name for name, _, _ in DEMO_USERS[1:]]
    assert len({login.password for login in made.logins}) == len(made.logins)
    sf.access.sign_in("admin", "the real admin's passphrase")
    assert list(sf.access.tokens()) == []
