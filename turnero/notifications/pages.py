"""Browser pages of the notifications domain."""

from __future__ import annotations

routes: list = []
