"""Turnero: citas y gestión de filas para oficinas de atención ciudadana."""

__version__ = "0.1.0"
