"""Leases for jobs that must run on one instance at a time (a DB row claim, like the
outbox's `claimed_by`/`claimed_until`): whoever updates the job's row first holds it
until its lease lapses; the holder renews it while it works and releases it at the end.
Works the same on SQLite and PostgreSQL, with or without Redis, and across the served
instances and the command line."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from turnero.core import clock
from turnero.core.models import JobLease


def new_holder() -> str:
    """This process and this run: host, process id and a random tag."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


async def claim(name: str, holder: str, ttl: timedelta) -> bool:
    """Take the lease if nobody holds it (or their lease has lapsed)."""
    now = clock.now()
    if not await JobLease.exists(name=name):
        try:
            await JobLease.create(name=name, holder=None, until=None)
        except IntegrityError:  # another instance made the row first: compete below
            pass
    taken = await JobLease.filter(
        Q(name=name) & (Q(holder__isnull=True) | Q(until__isnull=True) | Q(until__lt=now) | Q(holder=holder))
    ).update(holder=holder, until=now + ttl)
    return taken == 1


async def renew(name: str, holder: str, ttl: timedelta) -> bool:
    """Extend a lease still held; False once another holder has taken it over."""
    return await JobLease.filter(name=name, holder=holder).update(until=clock.now() + ttl) == 1


async def release(name: str, holder: str) -> None:
    await JobLease.filter(name=name, holder=holder).update(holder=None, until=None)


async def holder_of(name: str) -> str | None:
    """Who holds the lease now (None when free or lapsed)."""
    lease = await JobLease.get_or_none(name=name)
    if lease is None or lease.holder is None or lease.until is None or lease.until < clock.now():
        return None
    return lease.holder
