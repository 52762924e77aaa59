"""Unguessable public identifiers for links and QR codes."""

import hashlib
import secrets


def public_id() -> str:
    # 12 random bytes -> 16 URL-safe characters (96 bits): not guessable, short in a QR.
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are stored only as digests, so a database leak does not leak sessions."""
    return hashlib.sha256(token.encode()).hexdigest()
