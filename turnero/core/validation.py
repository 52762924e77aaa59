"""Validation of Bolivian identifiers shared by the domain packages."""

from __future__ import annotations

import re

from pydantic import BaseModel

_MOBILE = re.compile(r"^[67]\d{7}$")


def normalise_bolivian_phone(raw: str) -> str:
    """A Bolivian mobile number in E.164 (+591 followed by 8 digits starting 6 or 7).

    Accepts `71234567`, `+591 71234567`, `591-7123-4567`; raises ValueError otherwise."""
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("+591"):
        digits = digits[4:]
    elif digits.startswith("00591"):
        digits = digits[5:]
    elif digits.startswith("591") and len(digits) == 11:
        digits = digits[3:]
    if not _MOBILE.match(digits):
        raise ValueError("número de celular boliviano inválido (8 dígitos que empiezan con 6 o 7)")
    return "+591" + digits


# C0 controls, DEL, C1 controls and lone surrogates (which cannot be encoded as UTF-8).
# Tab, line feed and carriage return are allowed only in free text (JSON string values).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def bad_text_reason(value: str, *, multiline: bool) -> str | None:
    """Why `value` cannot be accepted as request text (in Spanish), or None if it can."""
    match = (_FORBIDDEN if multiline else _FORBIDDEN_LINE).search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return "contiene un carácter nulo (NUL)"
    if "\ud800" <= char <= "\udfff":
        return "contiene un carácter Unicode inválido"
    return f"contiene un carácter de control (U+{ord(char):04X})"


# What a JSON body needs to carry a control character or a lone surrogate: a raw control
# byte (only whitespace is valid JSON), a \u escape, or a UTF-8 C1 control. Most bodies
# have none, and are not walked at all.
_MAYBE_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u|\xc2[\x80-\x9f]")


def bad_text_in_body(body: bytes, parsed) -> tuple[str, str] | None:
    """The first bad string of a parsed body (dict keys included, what the schema kept
    only): (where, reason), or None."""
    if _MAYBE_CONTROL.search(body) is None:
        return None
    stack: list[tuple[str, object]] = [("", parsed)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            reason = bad_text_reason(value, multiline=True)
            if reason:
                return where or "cuerpo", reason
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str):
                    reason = bad_text_reason(key, multiline=False)
                    if reason:
                        return name, reason
                stack.append((name, item))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{where}.{i}", item) for i, item in enumerate(value))
        elif isinstance(value, BaseModel):
            stack.append((where, dict(value)))
    return None
