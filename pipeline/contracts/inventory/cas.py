"""CAS Registry Numbers: format and check digit.

A CAS number is 2-7 digits, 2 digits and one check digit (e.g. 64-17-5). The check digit is
the sum of the other digits, read from the right and weighted 1, 2, 3, ..., modulo 10.
"""
from __future__ import annotations

import re

from pipeline.contracts import quarantine as reasons

_CAS = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


def check_digit(body: str) -> int:
    """The check digit for the digits before it (`body` may contain dashes)."""
    digits = [int(c) for c in body if c.isdigit()]
    return sum(w * d for w, d in enumerate(reversed(digits), start=1)) % 10


def cas_problem(value: object) -> reasons.Reason | None:
    """None for a valid CAS number, else what is wrong with it (a quarantine reason)."""
    if not isinstance(value, str) or not value.strip():
        return reasons.CAS_MISSING
    match = _CAS.match(value.strip())
    if not match:
        return reasons.CAS_MALFORMED
    body = match.group(1) + match.group(2)
    if check_digit(body) != int(match.group(3)):
        return reasons.CAS_CHECK_DIGIT
    return None


def is_valid(value: object) -> bool:
    return cas_problem(value) is None
