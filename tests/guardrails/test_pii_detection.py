"""PII detection: Luhn-checked cards, mod-97-checked IBANs, e-mails, phones; redaction."""

from __future__ import annotations

import pytest

from app.bundles.guardrail_spec import PiiGuard
from app.guardrails.pii import PiiCheck, find_pii, iban_valid, luhn_valid

ALL = ("email", "phone", "card", "iban")


def kinds(text: str, entities: tuple[str, ...] = ALL) -> list[str]:
    return [kind for _, _, kind in find_pii(text, entities)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "number", ["4111111111111111", "5500 0000 0000 0004", "3782-822463-10005", "4012888888881881"]
)
def test_luhn_valid_card_numbers_are_found(number: str) -> None:
    assert luhn_valid(number.replace(" ", "").replace("-", ""))
    assert kinds(f"my card is {number}, thanks") == ["card"]


@pytest.mark.parametrize(
    "number", ["4111111111111112", "5500 0000 0000 0005", "1234 5678 9012 3456"]
)
def test_luhn_invalid_card_numbers_are_not(number: str) -> None:
    assert not luhn_valid(number.replace(" ", ""))
    assert kinds(f"my card is {number}, thanks") == []


def test_a_card_is_found_inside_a_longer_digit_run() -> None:
    assert kinds("4111 1111 1111 1111 12") == ["card"]


@pytest.mark.parametrize(
    "iban",
    ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "fr14 2004 1010 0505 0001 3m02 606"],
)
def test_valid_ibans_are_found(iban: str) -> None:
    assert iban_valid(iban)
    assert kinds(f"pay to {iban} TODAY please") == ["iban"]


@pytest.mark.parametrize(
    "iban", ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543", "XX00 1234"]
)
def test_invalid_ibans_are_not(iban: str) -> None:
    assert not iban_valid(iban)
    assert "iban" not in kinds(f"pay to {iban}")


def test_emails_and_phones() -> None:
    text = "write ada@example.co.uk or call +44 20 7946 0958 / (555) 123-4567"
    assert kinds(text) == ["email", "phone", "phone"]


@pytest.mark.parametrize(
    "text", ["order 1234 shipped", "on 2024-11-20 at 10:30", "version 1.2.3", "costs 9.90 EUR"]
)
def test_ordinary_numbers_are_not_pii(text: str) -> None:
    assert kinds(text) == []


def test_only_the_declared_entities_are_looked_for() -> None:
    text = "ada@example.com 4111 1111 1111 1111"
    assert kinds(text, ("card",)) == ["card"]
    assert kinds(text, ("email",)) == ["email"]


def test_redaction_names_the_kind_and_keeps_the_rest() -> None:
    check = PiiCheck(PiiGuard(type="pii", action="redact"))
    text = "card 4111 1111 1111 1111, mail ada@example.com, ok"
    assert check.redact(text) == "card [CARD REDACTED], mail [EMAIL REDACTED], ok"
    finding = check.scan([text, "and bob@example.org"])
    assert finding is not None
    assert finding.detail == "found 2 email, 1 card"
    assert "4111" not in finding.detail and "ada" not in finding.detail
