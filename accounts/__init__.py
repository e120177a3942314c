"""Accounts: users with argon2-hashed passwords, revocable API keys, per-user limits.

No accounts = zero-config: on a loopback address everyone is the one local user, as before.
With accounts, the UI asks for a login and `/v1` for an API key (`Authorization: Bearer …`).
"""

from accounts.exposure import check_exposure, is_loopback
from accounts.limits import LimitExceeded, Slot, UserLimits
from accounts.users import AccountError, Accounts, ApiKeyInfo, UserInfo

__all__ = [
    "AccountError",
    "Accounts",
    "ApiKeyInfo",
    "LimitExceeded",
    "Slot",
    "UserInfo",
    "UserLimits",
    "check_exposure",
    "is_loopback",
]
