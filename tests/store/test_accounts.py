"""Accounts and API keys on SQLite and on a real PostgreSQL; per-user limits on a clock."""

from __future__ import annotations

import pytest

from megrez_search.accounts import AccountError, Accounts, LimitExceeded, UserLimits
from megrez_search.accounts.exposure import ExposureError, check_exposure, is_loopback
from megrez_search.settings import Settings
from megrez_search.store import LOCAL_USER, ThreadIndex, UnstorableTextError, open_database


def test_passwords_are_hashed_and_checked(store_settings: Settings) -> None:
    database = open_database(store_settings)
    try:
        accounts = Accounts(database)
        assert not accounts.has_users()
        accounts.add("alice", "correct horse")
        assert accounts.has_users()
        stored = database.execute("SELECT password_hash FROM megrez_users")[0][0]
        assert stored.startswith("$argon2id$") and "correct horse" not in stored
        assert accounts.check_password("alice", "correct horse")
        assert not accounts.check_password("alice", "wrong horse")
        assert not accounts.check_password("nobody", "correct horse")
        accounts.set_password("alice", "battery staple")
        assert accounts.check_password("alice", "battery staple")
        assert not accounts.check_password("alice", "correct horse")
        with pytest.raises(AccountError, match="already exists"):
            accounts.add("alice", "another password")
        with pytest.raises(AccountError, match="at least 8"):
            accounts.add("bob", "short")
        with pytest.raises(AccountError, match="invalid user name"):
            accounts.add("Bob Smith", "long enough")
        assert [user.name for user in accounts.users()] == ["alice"]
    finally:
        database.close()


def test_api_keys_are_stored_hashed_and_revocable(store_settings: Settings) -> None:
    database = open_database(store_settings)
    try:
        accounts = Accounts(database)
        accounts.add("alice", "correct horse")
        accounts.add("bob", "bob's password")
        alice, bob = accounts.create_key("alice", "laptop"), accounts.create_key("bob")
        secrets_stored = [
            row[0] for row in database.execute("SELECT secret_hash FROM megrez_api_keys")
        ]
        assert all(key.split("_", 2)[2] not in secrets_stored for key in (alice, bob))
        assert accounts.user_for_key(alice) == "alice" and accounts.user_for_key(bob) == "bob"
        assert accounts.user_for_key(alice[:-1] + "x") is None
        assert accounts.user_for_key("msk_") is None and accounts.user_for_key("") is None
        accounts.revoke_key(alice.split("_")[1])
        assert accounts.user_for_key(alice) is None
        with pytest.raises(AccountError, match="no active API key"):
            accounts.revoke_key(alice.split("_")[1])
        accounts.remove("bob")  # removing a user removes their keys
        assert accounts.user_for_key(bob) is None
        assert [u.name for u in accounts.users()] == ["alice"]
        assert [(k.owner, k.label, k.revoked_at is not None) for k in accounts.api_keys()] == [
            ("alice", "laptop", True)
        ]
    finally:
        database.close()


def test_limits_refuse_over_rate_and_concurrency_per_user() -> None:
    now = [0.0]
    limits = UserLimits(requests_per_minute=3, concurrent_turns=2, clock=lambda: now[0])
    first, second = limits.acquire("alice"), limits.acquire("alice")
    with pytest.raises(LimitExceeded, match="2 answers in progress") as busy:
        limits.acquire("alice")
    assert str(busy.value).endswith(f"try again in {busy.value.retry_after_s} s")
    other = limits.acquire("bob")  # Alice's load leaves Bob his own slots
    first.release()
    first.release()  # idempotent
    third = limits.acquire("alice")
    third.release()
    with pytest.raises(LimitExceeded, match="3 questions per minute; try again in 60 s") as late:
        limits.acquire("alice")
    assert late.value.retry_after_s == 60
    now[0] = 4.7  # 55.3 s left of the first question's minute: the wait rounds up, never down
    with pytest.raises(LimitExceeded, match="try again in 56 s") as later:
        limits.acquire("alice")
    assert later.value.retry_after_s == 56
    now[0] = 60.0
    limits.acquire("alice").release()  # the window moved on
    second.release()
    other.release()
    for _ in range(10):  # the local user of a no-accounts install is never limited
        limits.acquire(LOCAL_USER)


def test_exposure_check() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert check_exposure("127.0.0.1", has_users=False, no_auth=False) is None
    assert check_exposure("0.0.0.0", has_users=True, no_auth=False) is None
    with pytest.raises(ExposureError, match="refusing to listen on 0.0.0.0"):
        check_exposure("0.0.0.0", has_users=False, no_auth=False)
    warning = check_exposure("0.0.0.0", has_users=False, no_auth=True)
    assert warning and "WITHOUT AUTHENTICATION" in warning


@pytest.mark.parametrize("bad", ["al\x00ice", "al\udcffice"])
def test_text_no_database_can_hold_is_refused_the_same_on_both(
    store_settings: Settings, bad: str
) -> None:
    """A NUL or a lone surrogate from a client: a wrong login, an unknown key, a clear refusal.

    PostgreSQL answered the NUL with psycopg's DataError (a 500 with a traceback at the login
    page) where SQLite matched nothing; SQLite failed on the surrogate with UnicodeEncodeError.
    """
    database = open_database(store_settings)
    try:
        accounts = Accounts(database)
        accounts.add("alice", "correct horse")
        assert not accounts.check_password(bad, "correct horse")
        assert accounts.user_for_key(f"msk_{bad}_secret") is None
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            accounts.create_key("alice", label=bad)
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            ThreadIndex(database).record("alice", "t1", f"A title {bad}", 1, "2026-01-02T09:30:00")
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            database.execute("SELECT name FROM megrez_users WHERE name = ?", (bad,))
        # Nothing half-written, and the database still answers.
        assert accounts.api_keys() == [] and ThreadIndex(database).list("alice") == []
        assert accounts.check_password("alice", "correct horse")
    finally:
        database.close()
