"""Passwords (argon2), bearer tokens and session cookies, roles and office scoping.

API clients send `Authorization: Bearer <token>`; browser pages carry the same kind of
token in an HTTP-only cookie set by the login form. Tokens are stored as digests.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import HTTPConnection

from turnero.core import clock
from turnero.core.cache import Cache
from turnero.core.errors import forbidden, unauthorized
from turnero.core.ids import new_token, token_digest
from turnero.core.models import ApiToken, Role, User
from turnero.core.ratelimit import (
    LOGIN_PER_CLIENT,
    LOGIN_PER_USER,
    LOGIN_PER_USER_CLIENT,
    Attempts,
    too_many_attempts,
)
from turnero.core.service import can_match

log = logging.getLogger("turnero.auth")

SESSION_COOKIE = "turnero_session"

# argon2id cost profiles (argon2-cffi's). The default is RFC 9106's low-memory profile
# (64 MiB, 3 passes, 4 lanes), what PasswordHasher() uses. "cheapest" is for the test
# suite only, which signs in hundreds of times. A password hashed under another profile
# is re-hashed under this one at its owner's next sign-in.
ARGON2_PROFILES = {
    "low-memory": profiles.RFC_9106_LOW_MEMORY,
    "high-memory": profiles.RFC_9106_HIGH_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


def hasher_for(profile: str) -> PasswordHasher:
    if profile not in ARGON2_PROFILES:
        raise SystemExit(f"TURNERO_ARGON2_PROFILE debe ser uno de {', '.join(ARGON2_PROFILES)}, no {profile!r}")
    return PasswordHasher.from_parameters(ARGON2_PROFILES[profile])


def use_argon2_profile(profile: str) -> None:
    """Hash new passwords under `profile` (settings.argon2_profile; turnero/wiring.py)."""
    global _hasher, _hasher_profile, _DUMMY_HASH
    if profile != _hasher_profile:
        _hasher, _hasher_profile = hasher_for(profile), profile
        _DUMMY_HASH = _hasher.hash("turnero-dummy-password")


_hasher: PasswordHasher | None = None
_hasher_profile = ""
# A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = ""
use_argon2_profile("low-memory")  # until the process is wired with its settings
# Verified tokens are remembered briefly so the hot path (call-next) skips a query;
# a revoked token stops working on other instances within this many seconds.
_tokens = Cache(15.0, max_size=10_000)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    office_id: int | None
    office_code: str | None
    expires_at_epoch: float

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can_act_on(self, office_id: int) -> bool:
        return self.is_admin or self.office_id == office_id


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# argon2 runs on threads of its own: at most ARGON2_THREADS at once (each takes 64 MiB
# under the default profile, so a burst of sign-ins cannot take the memory), and never
# queued behind the event loop's default executor, which other work (DNS look-ups,
# blocking calls) may fill.
ARGON2_THREADS = 2
_argon2_pool = ThreadPoolExecutor(max_workers=ARGON2_THREADS, thread_name_prefix="argon2")


async def _off_loop(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_argon2_pool, function, *args)


async def hash_password_off_loop(password: str) -> str:
    """hash_password() on the argon2 threads, for request handlers."""
    return await _off_loop(hash_password, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(username: str, password: str) -> User | None:
    user = (
        await User.get_or_none(username=username, active=True).select_related("office")
        if can_match(User, "username", username) else None  # e.g. a NUL: PostgreSQL would raise
    )
    # argon2 takes 0.1–0.3 s of CPU (and 64 MiB): off the event loop, which meanwhile
    # answers every other request (argon2-cffi releases the GIL while it hashes).
    ok = await _off_loop(_verify, user.password_hash if user else _DUMMY_HASH, password)
    if not (user and ok):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        await _rehash(user, password)
    return user


async def _rehash(user: User, password: str) -> None:
    """The password was stored under other argon2 parameters (older defaults, another
    profile): store it again under the current ones, now that we know it."""
    new_hash = await hash_password_off_loop(password)
    # Only if unchanged meanwhile: a concurrent password change wins.
    updated = await User.filter(id=user.id, password_hash=user.password_hash).update(password_hash=new_hash)
    if updated:
        user.password_hash = new_hash
        log.info("contraseña de %s re-cifrada con los parámetros actuales de argon2", user.username)


async def sign_in(attempts: Attempts, client: str, username: str, password: str) -> User | None:
    """authenticate(), with every attempt counted before the password is verified (so
    concurrent guesses cannot slip past the count). After 5 failures for this user name
    from this client address, each further try must wait 2, 4, 8 … seconds (429 with
    Retry-After); a stranger's failures from another address do not lock the owner out.
    The user name alone (from any address) and the address alone (any user name) have
    much larger allowances. A success clears the user-and-address count."""
    name = username.lower()
    counted: list[tuple] = []
    for rule, key in ((LOGIN_PER_USER_CLIENT, (name, client)), (LOGIN_PER_USER, (name,)), (LOGIN_PER_CLIENT, (client,))):
        wait = await attempts.take(rule, *key)
        if wait > 0:
            for taken_rule, taken_key in counted:  # this try is not verified: not a failure
                await attempts.give_back(taken_rule, *taken_key)
            raise too_many_attempts(wait, "Demasiados intentos fallidos; espere unos segundos e intente otra vez.")
        counted.append((rule, key))
    user = await authenticate(username, password)
    if user is not None:
        await attempts.forget(LOGIN_PER_USER_CLIENT, name, client)
        await attempts.give_back(LOGIN_PER_USER, name)
        await attempts.give_back(LOGIN_PER_CLIENT, client)
    return user


async def issue_token(user: User, ttl_hours: int) -> tuple[str, ApiToken]:
    token = new_token()
    now = clock.now()
    row = await ApiToken.create(
        digest=token_digest(token), user=user, created_at=now, expires_at=now + timedelta(hours=ttl_hours)
    )
    return token, row


async def revoke_token(token: str) -> None:
    digest = token_digest(token)
    _tokens.forget(digest)
    await ApiToken.filter(digest=digest).delete()


async def principal_for_token(token: str) -> Principal | None:
    digest = token_digest(token)
    now_epoch = clock.now().timestamp()
    cached = _tokens.get(digest)
    if cached is not None and cached.expires_at_epoch > now_epoch:
        return cached
    row = (
        await ApiToken.filter(digest=digest, user__active=True)
        .select_related("user", "user__office")
        .first()
    )
    if row is None or row.expires_at.timestamp() <= now_epoch:
        _tokens.forget(digest)
        return None
    user = row.user
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        office_id=user.office_id,
        office_code=user.office.code if user.office else None,
        expires_at_epoch=row.expires_at.timestamp(),
    )
    return _tokens.put(digest, principal)


def request_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return conn.cookies.get(SESSION_COOKIE) or None


async def current_principal(conn: HTTPConnection) -> Principal | None:
    if "principal" not in conn.scope.setdefault("state", {}):
        token = request_token(conn)
        conn.state.principal = await principal_for_token(token) if token else None
    return conn.state.principal


async def require(conn: HTTPConnection, *roles: Role, office_id: int | None = None) -> Principal:
    """The caller's principal, if it has one of `roles` (admin always does) and, when
    `office_id` is given, belongs to that office; 401 or 403 otherwise."""
    principal = await current_principal(conn)
    if principal is None:
        raise unauthorized()
    if not principal.is_admin and principal.role not in roles:
        raise forbidden("Su rol no permite esta operación.")
    if office_id is not None and not principal.can_act_on(office_id):
        raise forbidden("Solo puede operar en su propia oficina.")
    return principal


def clear_cache() -> None:
    _tokens.forget()
