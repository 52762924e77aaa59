"""Kiosk pages (written next)."""

routes: list = []
