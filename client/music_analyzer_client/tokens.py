"""`ma.tokens`: API tokens, a script's or an app's credentials in place of your password, and
`music-analyzer token create|list|revoke`.

    token = MusicAnalyzer(url, "alice", password).tokens.create("nightly batch")["token"]   # shown once
    ma = MusicAnalyzer(url, token=token)                                                   # or MA_TOKEN=...
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, cast

from .errors import EXIT_OK
from .paths import token_segment

if TYPE_CHECKING:
    from .client import MusicAnalyzer
    from .ui import Output


class TokensAPI:
    def __init__(self, client: MusicAnalyzer) -> None:
        self.client = client

    def create(self, name: str) -> dict[str, Any]:
        """A new token named `name` (what it is for): {id, user, name, created_at, token}; the token is in this
        answer only. It takes the password: a client made with a token gets 403 password_required."""
        return cast(dict[str, Any], self.client._json("POST", "/tokens", json={"name": name}))

    def list(self) -> list[dict[str, Any]]:
        """Your tokens (an admin's `owner`'s): {id, user, name, created_at}, never the secrets."""
        return cast(list[dict[str, Any]], self.client._json("GET", "/tokens", retry=True)["tokens"])

    def revoke(self, token_id: str) -> dict[str, Any]:
        """Revoke the token of this id: refused by the server from its next request on."""
        return cast(dict[str, Any], self.client._json("DELETE", f"/tokens/{token_segment(token_id)}"))


def add_parser(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", parents=[common], help="make a token (printed once, alone on stdout)")
    create.add_argument("name", metavar="NAME", help="what it is for: 'ci', 'my app'")
    sub.add_parser("list", parents=[common], help="your tokens: id, name, made when")
    revoke = sub.add_parser("revoke", parents=[common], help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="ID")


def run(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    if args.token_command == "create":
        made = client.tokens.create(args.name)
        if out.json:
            out.emit(made)
        else:
            sys.stdout.write(made["token"] + "\n")  # exactly the token, for `export MA_TOKEN=$(...)`
            out.note(f"token {made['id']} ({made['name']}) made: it is shown this once; send it as MA_TOKEN")
        return EXIT_OK
    if args.token_command == "list":
        tokens = client.tokens.list()
        if out.json:
            out.emit(tokens)
        else:
            out.table(["id", "name", "made"], [[t["id"], t["name"], t["created_at"]] for t in tokens],
                      title=f"{len(tokens)} token(s)")
        return EXIT_OK
    revoked = client.tokens.revoke(args.token_id)
    if out.json:
        out.emit(revoked)
    else:
        out.note(f"token {revoked['id']} revoked")
    return EXIT_OK
