"""Operator desk console pages (written next)."""

routes: list = []
