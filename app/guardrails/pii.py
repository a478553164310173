"""Personal data in text: e-mail addresses, phone numbers, card numbers, IBANs.

Card numbers count only when their Luhn check digit is right, and IBANs only
when they have their country's length and pass the ISO 7064 mod-97 check, so
order numbers and other long digit strings are not mistaken for them. Phone
numbers are the loosest family (9 to 15 digits, 10 without a ``+`` prefix).
Earlier families win where matches overlap: iban, card, email, phone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from types import MappingProxyType

from app.bundles.guardrail_spec import PiiEntity, PiiGuard
from app.guardrails.check import Finding

Span = tuple[int, int, PiiEntity]

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_DIGITS = re.compile(r"\d+")
_DIGIT_RUN = re.compile(r"(?<![\w])\d(?:[ -]?\d)+(?![\w])")
# Not a piece of a longer digit run (a Luhn-invalid card is not a phone number).
_PHONE = re.compile(r"(?<![\w+])(?<!\d[ .-])(?:\+|00)?\d(?:[ ().-]{0,2}\d){8,14}(?![\w]|[ ().-]\d)")
_IBAN_START = re.compile(r"\b([A-Za-z]{2})(\d{2})")

# ISO 13616 IBAN lengths by country.
IBAN_LENGTHS = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
        "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
        "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
        "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
        "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
        "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
        "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
        "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    }
)  # fmt: skip


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Country length and mod-97 (the check digits make the rearranged number ≡ 1)."""
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban.isascii():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _ibans(text: str) -> list[Span]:
    found: list[Span] = []
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match[1].upper())
        if length is None:
            continue
        chars, end = match[0], match.end()
        while len(chars) < length and end < len(text):
            char = text[end]
            if char.isascii() and char.isalnum():
                chars += char
            elif not (char == " " and end + 1 < len(text) and text[end + 1].isalnum()):
                break
            end += 1
        boundary = end == len(text) or not text[end].isalnum()
        if len(chars) == length and boundary and iban_valid(chars):
            found.append((match.start(), end, "iban"))
    return found


def _cards(text: str) -> list[Span]:
    """Within each run of digit groups, the first 13-19 digit window that passes Luhn."""
    found: list[Span] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [
            (m.start() + run.start(), m.end() + run.start()) for m in re.finditer(r"\d+", run[0])
        ]
        i = 0
        while i < len(groups):
            hit = None
            for j in range(len(groups), i, -1):
                digits = "".join(text[a:b] for a, b in groups[i:j])
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    hit = j
                    break
            if hit is None:
                i += 1
                continue
            found.append((groups[i][0], groups[hit - 1][1], "card"))
            i = hit
    return found


def _emails(text: str) -> list[Span]:
    return [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]


def _phones(text: str) -> list[Span]:
    found: list[Span] = []
    for match in _PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match[0])
        prefixed = match[0].startswith(("+", "00"))
        if 9 <= digits <= 15 and (prefixed or digits >= 10):
            found.append((match.start(), match.end(), "phone"))
    return found


_FINDERS = (("iban", _ibans), ("card", _cards), ("email", _emails), ("phone", _phones))


def find_pii(text: str, entities: Sequence[PiiEntity]) -> list[Span]:
    """Non-overlapping spans, in text order."""
    spans: list[Span] = []
    for entity, finder in _FINDERS:
        if entity not in entities:
            continue
        for span in finder(text):
            if all(span[1] <= s[0] or span[0] >= s[1] for s in spans):
                spans.append(span)
    return sorted(spans)


class PiiCheck:
    def __init__(self, spec: PiiGuard) -> None:
        self.label, self.type, self.action = spec.label, spec.type, spec.action
        self.entities = tuple(spec.entities)

    def scan(self, texts: Sequence[str]) -> Finding | None:
        counts = Counter(kind for text in texts for _, _, kind in find_pii(text, self.entities))
        if not counts:
            return None
        found = ", ".join(f"{counts[kind]} {kind}" for kind in self.entities if counts[kind])
        return Finding(f"found {found}")

    def redact(self, text: str) -> str:
        for start, end, kind in reversed(find_pii(text, self.entities)):
            text = f"{text[:start]}[{kind.upper()} REDACTED]{text[end:]}"
        return text
