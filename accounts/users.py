"""Users and API keys, in the app's database (SQLite or PostgreSQL, see store).

Passwords are hashed with argon2id (`argon2-cffi`, its recommended parameters; old hashes are
upgraded at the next login). API keys are `msk_<id>_<secret>`: 192 random bits, so one
SHA-256 of the secret is enough to store them (a slow KDF would only slow every request);
the id finds the row, the secret is compared in constant time, revoking sets `revoked_at`.

An account's data (conversations, limits) is keyed by its `user_id`, drawn once and never
reused, not by its name: `users remove` frees the name, and a new account of that name starts
empty. A login session is bound to the account's `session_stamp`, drawn anew by `users passwd`;
a session whose stamp or account is gone has ended (see `session_valid`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import MegrezSearchError
from store.database import Database
from store.text import is_storable

KEY_PREFIX = "msk"
MIN_PASSWORD = 8
_NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")


class AccountError(MegrezSearchError):
    """An account command that cannot be done (unknown user, name taken, weak password)."""


@dataclass(frozen=True)
class UserInfo:
    name: str
    created_at: str
    keys: int  # active API keys


@dataclass(frozen=True)
class Login:
    """A verified password: the account's id and the session stamp it was verified against."""

    name: str
    user_id: str
    stamp: str


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    owner: str
    label: str
    created_at: str
    revoked_at: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_user_id() -> str:
    # Upper-case: no account name is, so no new id equals an old account's name-as-id.
    return "U" + secrets.token_hex(12).upper()


def _new_stamp() -> str:
    return secrets.token_urlsafe(16)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._hasher = PasswordHasher()
        # Unknown names are checked against this hash too, so timing tells nobody who exists.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    # --- users ----------------------------------------------------------------------------

    def has_users(self) -> bool:
        return bool(self._db.execute("SELECT 1 FROM megrez_users LIMIT 1"))

    def add(self, name: str, password: str) -> None:
        if not _NAME.fullmatch(name):
            raise AccountError(
                f"invalid user name {name!r}: 1-64 lower-case letters, digits, '.', '_' or '-'"
            )
        password_hash = self._hasher.hash(self._checked(password))
        with self._db.transaction() as cursor:
            if cursor.execute("SELECT 1 FROM megrez_users WHERE name = ?", (name,)):
                raise AccountError(f"user {name!r} already exists")
            cursor.execute(
                "INSERT INTO megrez_users (name, password_hash, created_at, user_id, "
                "session_stamp) VALUES (?, ?, ?, ?, ?)",
                (name, password_hash, _now(), _new_user_id(), _new_stamp()),
            )

    def users(self) -> list[UserInfo]:
        rows = self._db.execute(
            "SELECT u.name, u.created_at, COUNT(k.key_id) FROM megrez_users u LEFT JOIN "
            "megrez_api_keys k ON k.owner = u.name AND k.revoked_at IS NULL "
            "GROUP BY u.name, u.created_at ORDER BY u.name"
        )
        return [UserInfo(row[0], row[1], int(row[2])) for row in rows]

    def remove(self, name: str) -> None:
        """Delete the user and their API keys, ending their sessions; their conversations stay
        under the account's id, which no other account ever gets: reachable by no one."""
        with self._db.transaction() as cursor:
            if not cursor.execute("SELECT 1 FROM megrez_users WHERE name = ?", (name,)):
                raise AccountError(f"no user {name!r}")
            cursor.execute("DELETE FROM megrez_api_keys WHERE owner = ?", (name,))
            cursor.execute("DELETE FROM megrez_users WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        password_hash = self._hasher.hash(self._checked(password))
        with self._db.transaction() as cursor:
            if not cursor.execute("SELECT 1 FROM megrez_users WHERE name = ?", (name,)):
                raise AccountError(f"no user {name!r}")
            # A new stamp ends every session logged in with the old password.
            cursor.execute(
                "UPDATE megrez_users SET password_hash = ?, session_stamp = ? WHERE name = ?",
                (password_hash, _new_stamp(), name),
            )

    def verify(self, name: str, password: str) -> Login | None:
        """The account `name` if `password` is its password (argon2: ~50 ms of CPU; callers
        on an event loop run it in a thread)."""
        # A name no database can hold (a NUL, a lone surrogate) is nobody's: a wrong login.
        query = "SELECT password_hash, user_id, session_stamp FROM megrez_users WHERE name = ?"
        rows = self._db.execute(query, (name,)) if is_storable(name) else []
        stored = rows[0][0] if rows else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        if self._hasher.check_needs_rehash(stored):
            self._db.execute(
                "UPDATE megrez_users SET password_hash = ? WHERE name = ?",
                (self._hasher.hash(password), name),
            )
        return Login(name, str(rows[0][1]), str(rows[0][2]))

    def check_password(self, name: str, password: str) -> bool:
        return self.verify(name, password) is not None

    def user_id(self, name: str) -> str | None:
        """The id that account `name`'s data is kept under, or None if there is no such user."""
        rows = self._db.execute("SELECT user_id FROM megrez_users WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def session_valid(self, user_id: str, stamp: str) -> bool:
        """Whether a session logged in as `user_id` with `stamp` still stands: the account
        exists and its password has not changed since."""
        return bool(
            self._db.execute(
                "SELECT 1 FROM megrez_users WHERE user_id = ? AND session_stamp = ?",
                (user_id, stamp),
            )
        )

    def _checked(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
        return password

    # --- API keys -------------------------------------------------------------------------

    def create_key(self, owner: str, label: str = "") -> str:
        """A new API key of `owner`; the only time its secret is seen."""
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        with self._db.transaction() as cursor:
            if not cursor.execute("SELECT 1 FROM megrez_users WHERE name = ?", (owner,)):
                raise AccountError(f"no user {owner!r}")
            cursor.execute(
                "INSERT INTO megrez_api_keys (key_id, owner, secret_hash, label, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key_id, owner, _digest(secret), label, _now()),
            )
        return f"{KEY_PREFIX}_{key_id}_{secret}"

    def api_keys(self, owner: str | None = None) -> list[ApiKeyInfo]:
        sql = "SELECT key_id, owner, label, created_at, revoked_at FROM megrez_api_keys"
        rows = (
            self._db.execute(sql + " WHERE owner = ? ORDER BY created_at", (owner,))
            if owner
            else self._db.execute(sql + " ORDER BY owner, created_at")
        )
        return [ApiKeyInfo(*row) for row in rows]

    def revoke_key(self, key_id: str) -> None:
        key_id = key_id.removeprefix(f"{KEY_PREFIX}_").split("_", 1)[0]
        with self._db.transaction() as cursor:
            if not cursor.execute(
                "SELECT 1 FROM megrez_api_keys WHERE key_id = ? AND revoked_at IS NULL", (key_id,)
            ):
                raise AccountError(f"no active API key {key_id!r}")
            cursor.execute(
                "UPDATE megrez_api_keys SET revoked_at = ? WHERE key_id = ?", (_now(), key_id)
            )

    def user_for_key(self, token: str) -> str | None:
        """The id of the account owning an active API key, or None for anything else."""
        prefix, _, rest = token.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not key_id or not secret or not is_storable(key_id):
            return None
        rows = self._db.execute(
            "SELECT u.user_id, k.secret_hash FROM megrez_api_keys k JOIN megrez_users u "
            "ON u.name = k.owner WHERE k.key_id = ? AND k.revoked_at IS NULL",
            (key_id,),
        )
        if not rows or not hmac.compare_digest(rows[0][1], _digest(secret)):
            return None
        return str(rows[0][0])
