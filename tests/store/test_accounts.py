"""Accounts and API keys on SQLite and on a real PostgreSQL; per-user limits on a clock;
account ids and session stamps (the lifecycle of `users remove` / `users passwd`)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from accounts import AccountError, Accounts, LimitExceeded, UserLimits
from accounts.exposure import ExposureError, check_exposure, is_loopback
from accounts.throttle import LoginThrottle, LoginThrottled
from core.settings import Settings
from store import LOCAL_USER, ThreadIndex, UnstorableTextError, open_database
from store import database as database_module


def test_passwords_are_hashed_and_checked(store_settings: Settings) -> None:
    database = open_database(store_settings.store)
    try:
        accounts = Accounts(database)
        assert not accounts.has_users()
        accounts.add("alice", "correct horse")
        assert accounts.has_users()
        stored = database.execute("SELECT password_hash FROM megrez_users")[0][0]
        assert stored.startswith("$argon2id$") and "correct horse" not in stored
        assert accounts.verify("alice", "correct horse") is not None
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
    database = open_database(store_settings.store)
    try:
        accounts = Accounts(database)
        accounts.add("alice", "correct horse")
        accounts.add("bob", "bob's password")
        alice, bob = accounts.create_key("alice", "laptop"), accounts.create_key("bob")
        secrets_stored = [
            row[0] for row in database.execute("SELECT secret_hash FROM megrez_api_keys")
        ]
        assert all(key.split("_", 2)[2] not in secrets_stored for key in (alice, bob))
        assert accounts.user_for_key(alice) == accounts.user_id("alice")
        assert accounts.user_for_key(bob) == accounts.user_id("bob")
        # One character off (a random secret ends in "x" one time in 64: then "y").
        assert accounts.user_for_key(alice[:-1] + ("y" if alice.endswith("x") else "x")) is None
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
    database = open_database(store_settings.store)
    try:
        accounts = Accounts(database)
        accounts.add("alice", "correct horse")
        assert accounts.verify(bad, "correct horse") is None
        assert accounts.user_for_key(f"msk_{bad}_secret") is None
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            accounts.create_key("alice", label=bad)
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            ThreadIndex(database).record("alice", "t1", f"A title {bad}", 1, "2026-01-02T09:30:00")
        with pytest.raises(UnstorableTextError, match="cannot be stored"):
            database.execute("SELECT name FROM megrez_users WHERE name = ?", (bad,))
        # Nothing half-written, and the database still answers.
        assert accounts.api_keys() == [] and ThreadIndex(database).list("alice") == []
        assert accounts.verify("alice", "correct horse") is not None
    finally:
        database.close()


def test_an_account_is_its_id_and_a_freed_name_gets_a_new_one(store_settings: Settings) -> None:
    database = open_database(store_settings.store)
    try:
        accounts, index = Accounts(database), ThreadIndex(database)
        accounts.add("alice", "correct horse")
        old_id = accounts.user_id("alice")
        assert old_id and old_id != "alice" and old_id.isupper()
        index.record(old_id, "t1", "Alice's secret", 1, "2026-01-01T00:00:00")
        old_key = accounts.create_key("alice")
        accounts.remove("alice")
        assert accounts.user_id("alice") is None and accounts.user_for_key(old_key) is None
        accounts.add("alice", "another password")
        new_id = accounts.user_id("alice")
        assert new_id and new_id != old_id
        assert index.list(new_id) == []  # the new alice starts empty
        assert [t.title for t in index.list(old_id)] == ["Alice's secret"]  # kept, unreachable
        assert accounts.user_for_key(old_key) is None
    finally:
        database.close()


def test_sessions_end_when_the_password_changes_or_the_account_goes(
    store_settings: Settings,
) -> None:
    database = open_database(store_settings.store)
    try:
        accounts = Accounts(database)
        accounts.add("alice", "correct horse")
        accounts.add("bob", "bob's password")
        alice, bob = (
            accounts.verify("alice", "correct horse"),
            accounts.verify("bob", "bob's password"),
        )
        assert alice and bob and accounts.verify("alice", "wrong horse") is None
        assert accounts.session_valid(alice.user_id, alice.stamp)
        accounts.set_password("alice", "battery staple")
        assert not accounts.session_valid(alice.user_id, alice.stamp)
        again = accounts.verify("alice", "battery staple")
        assert again and again.user_id == alice.user_id
        assert accounts.session_valid(again.user_id, again.stamp)
        accounts.remove("alice")
        assert not accounts.session_valid(again.user_id, again.stamp)
        accounts.add("alice", "correct horse")  # the same name and password: not the same account
        assert not accounts.session_valid(again.user_id, again.stamp)
        assert accounts.session_valid(bob.user_id, bob.stamp)  # others are untouched
    finally:
        database.close()


def test_accounts_from_before_ids_keep_their_data(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration gives existing accounts their name as id: their conversations were keyed
    by it, and stay theirs."""
    monkeypatch.setattr(database_module, "MIGRATIONS", database_module.MIGRATIONS[:4])
    monkeypatch.setattr(database_module, "SCHEMA_VERSION", 4)
    database = open_database(store_settings.store)
    try:
        database.execute(
            "INSERT INTO megrez_users (name, password_hash, created_at) VALUES (?, ?, ?)",
            ("alice", PasswordHasher().hash("correct horse"), "2026-01-01T00:00:00"),
        )
        ThreadIndex(database).record("alice", "t1", "Alice's question", 1, "2026-01-01T00:00:00")
    finally:
        database.close()
    monkeypatch.undo()
    database = open_database(store_settings.store)
    try:
        accounts = Accounts(database)
        login = accounts.verify("alice", "correct horse")
        assert login and login.user_id == "alice" and accounts.session_valid("alice", login.stamp)
        assert [t.title for t in ThreadIndex(database).list(login.user_id)] == ["Alice's question"]
        accounts.add("bob", "bob's password")  # new accounts still get new ids beside old ones
        assert accounts.user_id("bob") not in (None, "bob", "alice")
    finally:
        database.close()


def test_login_throttle_waits_longer_per_account_and_per_address() -> None:
    now = [0.0]
    throttle = LoginThrottle(free_failures=3, max_wait_s=8, clock=lambda: now[0])
    for _ in range(3):
        throttle.attempt("alice", "10.0.0.1")
    with pytest.raises(LoginThrottled, match="try again in 1 s") as refused:
        throttle.attempt("Alice ", "10.0.0.2")  # the account, however it is typed
    assert refused.value.wait_s == 1
    throttle.attempt("bob", "10.0.0.1")  # another account from the same address still may
    now[0] = 1.0
    throttle.attempt("alice", "10.0.0.3")
    with pytest.raises(LoginThrottled, match="in 2 s"):
        throttle.attempt("alice", "10.0.0.3")
    for waited in (3.0, 7.0, 15.0, 23.0):  # 2, 4, 8, then capped at 8
        now[0] = waited
        throttle.attempt("alice", "10.0.0.4")
    with pytest.raises(LoginThrottled, match="in 8 s"):
        throttle.attempt("alice", "10.0.0.4")
    now[0] = 31.0
    throttle.attempt("alice", "10.0.0.4")
    throttle.succeeded("alice", "10.0.0.4")  # the right password: alice starts afresh
    for _ in range(3):
        throttle.attempt("alice", "10.0.0.5")
    # An address gets four times the free failures, whatever names it tries.
    spray = [f"name{n}" for n in range(12)]
    for name in spray:
        throttle.attempt(name, "10.9.9.9")
    with pytest.raises(LoginThrottled):
        throttle.attempt("someone-new", "10.9.9.9")
