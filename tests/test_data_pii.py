"""PII detection and consistent redaction, plus the labelled fixture's precision/recall."""

from __future__ import annotations

import pytest

from bench.pii import evaluate, format_scores, main
from train.data.pii import (
    EMAIL,
    IP,
    KEY,
    Placeholders,
    find_pii,
    is_redactable_ip,
    redact,
)

AWS_KEY = "AKIAQ7N3X9R2M4K8P1ZT"  # synthetic: AWS key format, random characters


def labels(text: str) -> set[tuple[str, str]]:
    return {(m.label, m.value) for m in find_pii(text)}


def test_email_detected_but_example_domains_kept() -> None:
    assert labels("# by dev.one@team.example-corp.io\n") == {(EMAIL, "dev.one@team.example-corp.io")}
    assert labels("# see someone@example.com\n") == set()
    assert labels("@decorator\nuser@host\n") == set()


@pytest.mark.parametrize(
    ("address", "redacted"),
    [
        ("52.208.14.33", True),
        ("2a03:2880:f12f:83:face:b00c:0:25de", True),
        ("8.8.8.8", False),  # popular DNS server
        ("2001:4860:4860::8888", False),  # popular DNS server
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("127.0.0.1", False),
        ("255.255.255.0", False),
        ("999.1.1.1", False),  # not an address at all
        ("::2", False),  # a slice, reserved range
        ("abc::def", False),  # outside global unicast 2000::/3
    ],
)
def test_ip_validation_and_keep_list(address: str, redacted: bool) -> None:
    assert is_redactable_ip(address) == redacted


def test_version_strings_are_not_ips() -> None:
    assert labels("__version__ = '1.2.3.4.5'\n") == set()


def test_secret_key_detected_with_disabled_keyword_plugin() -> None:
    assert labels(f'aws_id = "{AWS_KEY}"\n') == {(KEY, AWS_KEY)}
    # the keyword plugin (off) would flag this; plain code must survive untouched
    assert labels("password = input('Password: ')\n") == set()


def test_same_value_gets_same_placeholder_across_documents() -> None:
    placeholders = Placeholders(b"fixed salt")
    first, _ = redact("a = 'bob@corp.io'\nb = 'bob@corp.io'\nc = 'eve@corp.io'\n", placeholders)
    second, _ = redact("owner: bob@corp.io\n", placeholders)
    first_values = [line.split("'")[1] for line in first.splitlines()]
    assert first_values[0] == first_values[1] != first_values[2]
    assert first_values[0] in second
    assert "bob@corp.io" not in first + second
    assert first_values[0].endswith("@example.com")


def test_placeholders_have_the_shape_of_the_original() -> None:
    text = f"host = '52.208.14.33'\nv6 = '2a03:2880::1'\nkey = '{AWS_KEY}'\n"
    out, matches = redact(text, Placeholders(b"s"))
    assert {m.label for m in matches} == {IP, KEY}
    ipv4, ipv6, key = (line.split("'")[1] for line in out.splitlines())
    assert ipv4.startswith("10.") and ipv6.startswith("fd") and len(key) == 32


def test_placeholders_depend_on_the_salt() -> None:
    text = "x = 'bob@corp.io'\n"
    assert redact(text, Placeholders(b"one"))[0] != redact(text, Placeholders(b"two"))[0]


def test_fixture_precision_and_recall(capsys: pytest.CaptureFixture[str]) -> None:
    scores = evaluate()
    assert scores[EMAIL].precision == scores[EMAIL].recall == 1.0
    assert scores[IP].precision == scores[IP].recall == 1.0
    assert scores[KEY].precision >= 0.85 and scores[KEY].recall >= 0.85
    main([])  # the command prints the same table for the same fixture
    assert capsys.readouterr().out == format_scores(scores) + "\n"
