"""Validation of Bolivian identifiers shared by the domain packages."""

from __future__ import annotations

import re

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
