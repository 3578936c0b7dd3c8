"""PII redaction: e-mail addresses, public IP addresses and secret keys.

Detection follows BigCode's recipe: regexes for e-mails and IPs (IPs validated with
`ipaddress`; private, reserved and well-known DNS-server addresses are left alone), and
detect-secrets' plugins for keys, without the keyword, basic-auth and private-key plugins
(they fire on ordinary code such as `password = input()`).

Replacement is consistent: a value always gets the same placeholder, derived from a keyed hash
(HMAC; the pipeline's key is a digest of its inputs, so reruns give the same text). The key
matters: e-mails and IPv4 addresses are guessable, so an unkeyed hash could be reversed by brute
force.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters.heuristic import (
    is_potential_uuid,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector

EMAIL, IP, KEY = "EMAIL", "IP_ADDRESS", "KEY"
LABELS = (EMAIL, IP, KEY)

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_DIGIT_LINE = re.compile(r"^.*\d.*$", re.MULTILINE)
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# Addresses that are placeholders already, or that identify no one.
_KEPT_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_POPULAR_DNS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "8.8.8.8",
        "8.8.4.4",
        "1.1.1.1",
        "1.0.0.1",
        "9.9.9.9",
        "149.112.112.112",
        "208.67.222.222",
        "208.67.220.220",
        "2001:4860:4860::8888",
        "2001:4860:4860::8844",
        "2606:4700:4700::1111",
        "2606:4700:4700::1001",
        "2620:fe::fe",
    )
)
# All real public IPv6 unicast traffic lives here; outside it, "::"-heavy strings in code
# (slices, C++ scopes, hex constants) would otherwise validate as addresses.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# Every value found is replaced wherever it occurs, so short strings must never count as keys.
MIN_SECRET_CHARS = 8
_DELIMITERS = " \t\"'=:"
_DISABLED_PLUGINS = (KeywordDetector, BasicAuthDetector, PrivateKeyDetector, IPPublicDetector)


@dataclass(frozen=True, order=True)
class PiiMatch:
    start: int
    end: int
    label: str
    value: str


def find_emails(text: str) -> Iterator[PiiMatch]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        if not m.group().lower().endswith(_KEPT_EMAIL_DOMAINS):
            yield PiiMatch(m.start(), m.end(), EMAIL, m.group())


def is_redactable_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if address in _POPULAR_DNS or not address.is_global:
        return False
    return address.version == 4 or address in _GLOBAL_UNICAST_V6


def find_ips(text: str) -> Iterator[PiiMatch]:
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            if is_redactable_ip(m.group()):
                yield PiiMatch(m.start(), m.end(), IP, m.group())


@cache
def secret_plugins() -> tuple[BasePlugin, ...]:
    classes = get_mapping_from_secret_type_to_class().values()
    return tuple(cls() for cls in sorted(classes, key=lambda c: c.__name__) if not issubclass(cls, _DISABLED_PLUGINS))


def _is_plausible_secret(plugin: BasePlugin, value: str) -> bool:
    if isinstance(plugin, HighEntropyStringsPlugin) and plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
        return False
    return not (is_sequential_string(value) or is_potential_uuid(value) or is_templated_secret(value))


def _lines_with_digits(text: str) -> str:
    return "\n".join(_DIGIT_LINE.findall(text))


def _plugin_values(plugin: BasePlugin, text: str) -> Iterator[str]:
    if not isinstance(plugin, RegexBasedDetector):
        yield from plugin.analyze_string(text)
        return
    # detect-secrets yields capture groups when a pattern has any, which for some plugins is
    # only the token's prefix (GitLab: "glpat"); take the longest group that can be a secret,
    # else the whole match without the delimiters some patterns include.
    for pattern in plugin.denylist:
        for m in pattern.finditer(text):
            groups = [g for g in m.groups() if g and len(g) >= MIN_SECRET_CHARS]
            yield max(groups, key=len) if groups else m.group().strip(_DELIMITERS)


def find_keys(text: str) -> Iterator[PiiMatch]:
    # The plugins' regexes run over the whole file at once, not line by line as the
    # detect-secrets CLI does (same patterns, far less Python overhead). The pattern-specific
    # plugins are slow case-insensitive regexes and every token they look for contains a digit
    # in practice, so they only see lines with a digit (~1/5 of code); the entropy plugins
    # also catch digit-free random strings and see everything.
    digit_lines = _lines_with_digits(text)
    values = {
        value
        for plugin in secret_plugins()
        for value in _plugin_values(plugin, text if isinstance(plugin, HighEntropyStringsPlugin) else digit_lines)
        if len(value) >= MIN_SECRET_CHARS and _is_plausible_secret(plugin, value)
    }
    for value in values:
        for m in re.finditer(re.escape(value), text):
            yield PiiMatch(m.start(), m.end(), KEY, value)


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping matches in text order; where two overlap, the longer one wins."""
    candidates = sorted(
        [*find_keys(text), *find_emails(text), *find_ips(text)], key=lambda m: (m.start, -(m.end - m.start))
    )
    chosen: list[PiiMatch] = []
    for match in candidates:
        if chosen and match.start < chosen[-1].end:
            continue
        chosen.append(match)
    return chosen


class Placeholders:
    """Maps a detected value to its replacement; the same value always gets the same one."""

    def __init__(self, salt: bytes):
        self.salt = salt

    def _digest(self, value: str) -> bytes:
        return hmac.new(self.salt, value.encode("utf-8"), "sha256").digest()

    def __call__(self, match: PiiMatch) -> str:
        digest = self._digest(match.value)
        if match.label == EMAIL:
            return f"user_{digest[:5].hex()}@example.com"
        if match.label == KEY:
            return digest[:16].hex()
        if ":" in match.value:  # IPv6 -> a unique-local (fd00::/8) address
            return str(ipaddress.IPv6Address(b"\xfd" + digest[:15]))
        return f"10.{digest[0]}.{digest[1]}.{digest[2]}"  # IPv4 -> a 10/8 private address


def redact(text: str, placeholders: Placeholders) -> tuple[str, list[PiiMatch]]:
    matches = find_pii(text)
    if not matches:
        return text, matches
    pieces: list[str] = []
    cursor = 0
    for match in matches:
        pieces += [text[cursor : match.start], placeholders(match)]
        cursor = match.end
    pieces.append(text[cursor:])
    return "".join(pieces), matches


class PiiRedactor(PipelineStep):
    type = "✂️ - FORMAT"
    name = "pii redaction"

    def __init__(self, salt_hex: str):
        super().__init__()
        self.salt_hex = salt_hex

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        placeholders = Placeholders(bytes.fromhex(self.salt_hex))
        for doc in data:
            doc.text, matches = redact(doc.text, placeholders)
            for match in matches:
                self.stat_update(f"redacted/{match.label}")
            yield doc
