"""``stockflow users`` and ``stockflow tokens`` on real databases, and the audit of CLI writes."""

from __future__ import annotations

import getpass

import pytest
from rich.console import Console
from typer.testing import CliRunner

from helpers import add_sku, receive, setup_places
from stockflow.access import rules
from stockflow.access.authenticator import Kind
from stockflow.bootstrap import Stockflow
from stockflow.cli import tokens, users
from stockflow.cli.app import app
from stockflow.errors import NotSignedIn
from stockflow.stock.rules.access import Role, ScopeKind

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables printed wide enough that no cell wraps."""
    for module in (users, tokens):
        monkeypatch.setattr(module, "console", Console(width=200))


def cli(db_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run ``stockflow ARGS --db URL``; exit code, standard output, standard error."""
    result = CliRunner().invoke(app, [*args, "--db", db_url], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_the_first_admin_types_a_password_twice_and_can_sign_in(sf: Stockflow, db_url: str) -> None:
    assert list(sf.access.users()) == []  # no default user
    code, out, err = cli(
        db_url, "users", "add", "boss", "--role", "admin", stdin=f"{PASSWORD}\n" * 2
    )
    assert code == 0, err
    assert "user boss added: admin, no scope limit, signs in with a password" in out
    assert PASSWORD not in out  # typed without echo
    boss = sf.access.user("boss")
    assert (boss.role, boss.active, boss.has_password) == (Role.ADMIN, True, True)
    assert sf.access.sign_in("boss", PASSWORD).signed.principal.role is Role.ADMIN


def test_a_short_typed_password_is_asked_for_again(sf: Stockflow, db_url: str) -> None:
    typed = "too short\n" + f"{PASSWORD}\n" * 2
    code, _, err = cli(db_url, "users", "add", "boss", "--role", "admin", stdin=typed)
    assert code == 0, err
    assert "the password must be at least 12 characters; type another" in err
    sf.access.sign_in("boss", PASSWORD)


def test_two_different_typed_passwords_make_no_user(sf: Stockflow, db_url: str) -> None:
    typed = f"{PASSWORD}\nanother long passphrase\n"
    code, _, err = cli(db_url, "users", "add", "boss", "--role", "admin", stdin=typed)
    assert (code, err.strip()) == (2, "error: field 'password': the two entries differ")
    assert list(sf.access.users()) == []


def test_a_script_reads_the_password_from_stdin_and_an_integration_has_none(
    sf: Stockflow, db_url: str
) -> None:
    code, _, err = cli(
        db_url, "users", "add", "ops", "--role", "manager", "--password-stdin", stdin=PASSWORD
    )
    assert code == 0, err
    sf.access.sign_in("ops", PASSWORD)
    code, out, err = cli(db_url, "users", "add", "shop", "--role", "sales", "--no-password")
    assert code == 0, err
    assert "signs in with API tokens only" in out
    assert "stockflow tokens add shop --name LABEL" in out
    assert sf.access.user("shop").has_password is False
    with pytest.raises(NotSignedIn):
        sf.access.sign_in("shop", "")


def test_users_list_shows_role_scope_state_and_password(sf: Stockflow, db_url: str) -> None:
    setup_places(sf, "WH1", "WH2")
    sf.access.add_user("ops", Role.MANAGER, password=PASSWORD)
    sf.access.add_user("rtm", Role.THREE_PL, scope=["WH2"])
    sf.access.add_user("team", Role.WAREHOUSE, scope=["WH1", "WH2"], scope_kind=ScopeKind.LOCATIONS)
    sf.access.set_active("ops", False)
    code, out, err = cli(db_url, "users", "list")
    assert code == 0, err
    rows = {cells[0]: cells[1:5] for cells in _table_rows(out)}
    assert rows == {
        "ops": ["manager", "no scope limit", "no", "yes"],
        "rtm": ["three_pl", "locations: WH2", "yes", "no"],
        "team": ["warehouse", "locations: WH1, WH2", "yes", "no"],
    }


def _table_rows(out: str) -> list[list[str]]:
    """The cells of each body row of a Rich table."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in out.splitlines()
        if line.startswith("│")
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "field", "detail"),
    [
        (["boss", "--role", "emperor", "--no-password"], None, "role", "'emperor' is not a role"),
        (["rtm", "--role", "three_pl", "--no-password"], None, "scope", "must be limited"),
        (["rtm", "--role", "three_pl", "--scope", "NOPE", "--no-password"], None, "scope[0]",
         "no locations 'NOPE'"),
        (["boss", "--role", "admin", "--password-stdin"], "short\n", "password",
         "at least 12 characters"),
        (["boss", "--role", "admin", "--password-stdin"], "", "password", "nothing on standard"),
        (["taken", "--role", "admin", "--no-password"], None, "name", "already exists"),
        (["bad name", "--role", "admin", "--no-password"], None, "name", "letters, digits"),
        (["boss", "--role", "admin", "--no-password", "--password-stdin"], PASSWORD, "password",
         "not both"),
        (["boss", "--role", "admin", "--scope-kind", "planets", "--scope", "X", "--no-password"],
         None, "scope_kind", "'planets' is not one of"),
    ],
)  # fmt: skip
def test_a_refused_user_names_the_field_in_one_line_and_nothing_is_made(
    sf: Stockflow, db_url: str, args: list[str], stdin: str | None, field: str, detail: str
) -> None:
    setup_places(sf)
    sf.access.add_user("taken", Role.SALES)
    code, _, err = cli(db_url, "users", "add", *args, stdin=stdin)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: field '{field}': ")
    assert detail in line
    assert [u.name for u in sf.access.users()] == ["taken"]
    assert list(sf.access.audit()) == []


def test_passwd_sets_a_new_password_and_ends_the_sessions(sf: Stockflow, db_url: str) -> None:
    sf.access.add_user("ops", Role.MANAGER, password=PASSWORD)
    session = sf.access.sign_in("ops", PASSWORD)
    new = "a whole new passphrase"
    code, out, err = cli(db_url, "users", "passwd", "ops", stdin=f"{new}\n{new}\n")
    assert code == 0, err
    assert "password of ops changed" in out
    assert sf.access.authenticator.refresh(Kind.SESSION, session.secret) is None
    with pytest.raises(NotSignedIn):
        sf.access.sign_in("ops", PASSWORD)
    sf.access.sign_in("ops", new)
    code, _, err = cli(db_url, "users", "passwd", "nobody", stdin=f"{new}\n{new}\n")
    assert (code, err.strip()) == (2, "error: field 'name': no user 'nobody'")


def test_disable_stops_a_user_and_its_tokens_and_enable_lets_it_back(
    sf: Stockflow, db_url: str
) -> None:
    sf.access.add_user("shop", Role.SALES)
    secret = sf.access.issue_token("shop", "web shop").secret
    code, out, err = cli(db_url, "users", "disable", "shop")
    assert code == 0, err
    assert "shop disabled" in out
    assert sf.access.user("shop").active is False
    assert sf.access.authenticator.refresh(Kind.TOKEN, secret) is None
    code, _, err = cli(db_url, "users", "enable", "shop")
    assert code == 0, err
    signed = sf.access.authenticator.refresh(Kind.TOKEN, secret)
    assert signed is not None
    assert signed.principal.name == "shop"
    code, _, err = cli(db_url, "users", "disable", "nobody")
    assert (code, err.strip()) == (2, "error: field 'name': no user 'nobody'")


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(
    sf: Stockflow, db_url: str
) -> None:
    sf.access.add_user("shop", Role.SALES)
    code, out, err = cli(
        db_url, "tokens", "add", "shop", "--name", "web shop", "--days", "30", "--rate-limit", "20"
    )
    assert code == 0, err
    secret = out.strip()  # the secret alone on standard output, for a script to keep
    assert rules.TOKEN_PATTERN.fullmatch(secret)
    assert "will not be shown again" in err
    [token] = sf.access.tokens("shop")
    assert (token.name, token.rate_limit) == ("web shop", 20)
    assert (token.expires_at - token.created_at).days == 30
    signed = sf.access.authenticator.refresh(Kind.TOKEN, secret)
    assert signed is not None
    assert signed.principal.role is Role.SALES

    code, out, err = cli(db_url, "tokens", "list")
    assert code == 0, err
    assert secret not in out
    [row] = _table_rows(out)
    assert row[:4] == [str(token.id), "shop", "web shop", f"{secret[: rules.SHOWN_PREFIX]}..."]
    assert row[7:] == ["-", "20/s"]  # not revoked
    assert row[6] != "-"  # used once, just now

    code, out, err = cli(db_url, "tokens", "revoke", str(token.id))
    assert code == 0, err
    assert f"token {token.id} revoked" in out
    assert sf.access.authenticator.refresh(Kind.TOKEN, secret) is None
    assert sf.access.tokens("shop")[0].revoked_at is not None
    code, _, err = cli(db_url, "tokens", "revoke", "999")
    assert (code, err.strip()) == (2, "error: field 'token_id': no token 999")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["nobody", "--name", "x"], "name"),
        (["shop", "--name", "x", "--days", "400"], "expires_in_days"),
        (["shop", "--name", "x", "--rate-limit", "0"], "rate_limit"),
        (["shop", "--name", " "], "name"),
    ],
)
def test_a_refused_token_names_the_field(
    sf: Stockflow, db_url: str, args: list[str], field: str
) -> None:
    sf.access.add_user("shop", Role.SALES)
    code, out, err = cli(db_url, "tokens", "add", *args)
    assert code == 2
    assert err.startswith(f"error: field '{field}': ")
    assert out == ""
    assert list(sf.access.tokens()) == []


def test_tokens_list_of_one_user_and_of_an_unknown_one(sf: Stockflow, db_url: str) -> None:
    sf.access.add_user("shop", Role.SALES)
    sf.access.add_user("ops", Role.MANAGER)
    sf.access.issue_token("shop", "a")
    sf.access.issue_token("ops", "b")
    code, out, _ = cli(db_url, "tokens", "list", "ops")
    assert [row[1:3] for row in _table_rows(out)] == [["ops", "b"]]
    code, _, err = cli(db_url, "tokens", "list", "nobody")
    assert (code, err.strip()) == (2, "error: field 'name': no user 'nobody'")


def test_cli_writes_are_audited_as_the_shell_user_via_cli(sf: Stockflow, db_url: str) -> None:
    me = getpass.getuser()
    assert cli(db_url, "users", "add", "shop", "--role", "sales", "--no-password")[0] == 0
    assert cli(db_url, "tokens", "add", "shop", "--name", "web")[0] == 0
    [token] = sf.access.tokens("shop")
    assert cli(db_url, "tokens", "revoke", str(token.id))[0] == 0
    assert cli(db_url, "users", "list")[0] == 0  # reads leave no row
    assert cli(db_url, "tokens", "list")[0] == 0
    trail = sf.access.audit()
    assert [(e.command, e.target) for e in reversed(trail)] == [
        ("stockflow users add", {"name": "shop"}),
        ("stockflow tokens add", {"user": "shop"}),
        ("stockflow tokens revoke", {"token_id": str(token.id)}),
    ]
    assert {(e.actor, e.role, e.via, e.token_id, e.outcome) for e in trail} == {
        (me, "admin", "cli", None, "done")
    }
    assert sf.access.audit(actor=me, command="tokens revoke")[0].target == {
        "token_id": str(token.id)
    }


def test_an_explicit_actor_is_the_audited_one_and_the_events_are_in_the_target(
    sf: Stockflow, db_url: str
) -> None:
    setup_places(sf, "WH1", "WH2")
    add_sku(sf, "A")
    receive(sf, "A", 5)
    ship = ["transfers", "ship", "A:2", "--from", "WH1", "--to", "WH2", "--expected", "2030-01-01"]
    code, _, err = cli(db_url, *ship, "--actor", "alice")
    assert code == 0, err
    code, _, err = cli(db_url, *ship)
    assert code == 0, err
    default, explicit = sf.access.audit()
    assert (explicit.actor, explicit.via) == ("alice", "cli")
    assert explicit.command == "stockflow transfers ship"
    assert explicit.target["lines"] == "A:2"
    assert explicit.target["events"]  # what the change recorded, as from the API
    assert default.actor == getpass.getuser()  # the option's default names nobody
