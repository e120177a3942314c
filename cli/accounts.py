"""`megrez-search users …`: accounts and API keys, in the configured database.

megrez-search users add alice             # asks for the password (or --password-stdin)
megrez-search users list
megrez-search users passwd alice
megrez-search users remove alice
megrez-search users key alice [--label laptop]   # prints a new API key once
megrez-search users keys [alice]
megrez-search users revoke KEY_ID
"""

from __future__ import annotations

import argparse
import getpass
import sys

from accounts import AccountError, Accounts
from cli import SettingsFromArgs
from core.settings import Settings
from store import open_database


def register(subparsers: argparse._SubParsersAction, settings_from_args: SettingsFromArgs) -> None:
    users = subparsers.add_parser(
        "users",
        help="manage accounts and API keys (users add|list|remove|passwd|key|keys|revoke)",
        description="Accounts of the UI and API keys of /v1, kept in the data dir's database "
        "or MEGREZ_DATABASE_URL. With no accounts the app serves one local user on loopback.",
    )
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("add", "create an account"),
        ("passwd", "change a password (ends the account's sessions)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("name")
        action.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    actions.add_parser("list", help="list accounts")
    actions.add_parser(
        "remove", help="delete an account and its API keys, ending its sessions"
    ).add_argument("name")
    key = actions.add_parser("key", help="create an API key for a user (printed once)")
    key.add_argument("name")
    key.add_argument("--label", default="", help="a note to recognise the key by")
    keys = actions.add_parser("keys", help="list API keys (ids only)")
    keys.add_argument("name", nargs="?")
    actions.add_parser("revoke", help="revoke an API key by its id").add_argument("key_id")
    users.set_defaults(handler=lambda args: run_users(args, settings_from_args(args)))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the passwords differ")
    return first


def run_users(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings.store)
    try:
        accounts = Accounts(database)
        if args.action == "add":
            accounts.add(args.name, _password(args))
            print(f"added {args.name}")
        elif args.action == "passwd":
            accounts.set_password(args.name, _password(args))
            print(f"changed the password of {args.name}; their sessions have ended")
        elif args.action == "remove":
            accounts.remove(args.name)
            print(f"removed {args.name}, their API keys and sessions")
        elif args.action == "list":
            for user in accounts.users():
                print(f"{user.name}\tcreated {user.created_at}\t{user.keys} API key(s)")
        elif args.action == "key":
            print(accounts.create_key(args.name, args.label))
        elif args.action == "keys":
            for info in accounts.api_keys(args.name):
                state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
                print(f"{info.key_id}\t{info.owner}\t{state}\t{info.label}")
        elif args.action == "revoke":
            accounts.revoke_key(args.key_id)
            print(f"revoked {args.key_id}")
    finally:
        database.close()
    return 0
