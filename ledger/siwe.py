"""Sign-In with Ethereum (EIP-4361): build, parse and verify the message a wallet signs.

Implemented here rather than taken from PyPI's `siwe`, which pins web3 < 8. Verification
checks the signature (EIP-191 personal_sign), the domain, URI origin, chain id, nonce and
time window; the caller checks that the nonce is one it issued and not yet used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address

from ledger.exceptions import LedgerError

HEADER = " wants you to sign in with your Ethereum account:"
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_FIELDS = (
    ("uri", "URI"),
    ("version", "Version"),
    ("chain_id", "Chain ID"),
    ("nonce", "Nonce"),
    ("issued_at", "Issued At"),
    ("expiration_time", "Expiration Time"),
    ("not_before", "Not Before"),
    ("request_id", "Request ID"),
)


class SiweError(LedgerError):
    """A sign-in message is malformed, or its signature or claims do not hold."""


@dataclass
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    version: str = "1"
    scheme: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        prefix = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [prefix + HEADER, self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines += [""]
        for attr, label in _FIELDS:
            value = getattr(self, attr)
            if value is not None:
                lines.append(f"{label}: {value}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)


def _timestamp(value: str, label: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SiweError(f"{label} {value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise SiweError(f"{label} {value!r} has no time zone")
    return parsed


def parse(text: str) -> SiweMessage:
    """Parse the EIP-4361 text; raises SiweError naming the line that is wrong."""
    lines = text.split("\n")
    if len(lines) < 8 or not lines[0].endswith(HEADER):
        raise SiweError("line 1 must read '<domain> wants you to sign in with your Ethereum account:'")
    origin = lines[0][: -len(HEADER)]
    scheme, _, domain = origin.rpartition("://")
    if not domain or any(c.isspace() for c in domain):
        raise SiweError(f"line 1: {origin!r} is not a domain")
    address = lines[1]
    if not is_checksum_address(address):
        raise SiweError(f"line 2: {address!r} is not an EIP-55 checksummed address")
    if lines[2] != "":
        raise SiweError("line 3 must be empty")
    index = 3
    statement: str | None = None
    if lines[index] != "":
        statement = lines[index]
        if "\n" in statement:
            raise SiweError("line 4: the statement must be one line")
        index += 1
        if lines[index] != "":
            raise SiweError(f"line {index + 1} must be empty after the statement")
    index += 1
    values: dict[str, str] = {}
    for attr, label in _FIELDS:
        if index < len(lines) and lines[index].startswith(f"{label}: "):
            values[attr] = lines[index][len(label) + 2 :]
            index += 1
    resources: list[str] = []
    if index < len(lines) and lines[index] == "Resources:":
        index += 1
        while index < len(lines) and lines[index].startswith("- "):
            resources.append(lines[index][2:])
            index += 1
    if index != len(lines):
        raise SiweError(f"line {index + 1}: unexpected {lines[index]!r}")
    for attr in ("uri", "version", "chain_id", "nonce", "issued_at"):
        if attr not in values:
            raise SiweError(f"the message has no {dict(_FIELDS)[attr]!r} field")
    if values["version"] != "1":
        raise SiweError(f"Version {values['version']!r} is not supported (only 1)")
    if not values["chain_id"].isdigit():
        raise SiweError(f"Chain ID {values['chain_id']!r} is not a number")
    if not _NONCE.match(values["nonce"]):
        raise SiweError("Nonce must be at least 8 letters or digits")
    if not urlsplit(values["uri"]).scheme:
        raise SiweError(f"URI {values['uri']!r} is not an absolute URI")
    for attr in ("issued_at", "expiration_time", "not_before"):
        if attr in values:
            _timestamp(values[attr], dict(_FIELDS)[attr])
    return SiweMessage(
        domain=domain,
        address=address,
        statement=statement,
        scheme=scheme or None,
        uri=values["uri"],
        version=values["version"],
        chain_id=int(values["chain_id"]),
        nonce=values["nonce"],
        issued_at=values["issued_at"],
        expiration_time=values.get("expiration_time"),
        not_before=values.get("not_before"),
        request_id=values.get("request_id"),
        resources=resources,
    )


def verify(
    text: str,
    signature: str,
    *,
    domain: str,
    chain_id: int,
    nonce: str,
    now: datetime | None = None,
    max_age_s: int = 600,
) -> SiweMessage:
    """Check `signature` over `text` and every claim the server relies on; returns the message."""
    message = parse(text)
    now = now or datetime.now(UTC)
    if message.domain != domain:
        raise SiweError(f"the message is for domain {message.domain!r}, not {domain!r}")
    if urlsplit(message.uri).netloc != domain:
        raise SiweError(f"the message's URI {message.uri!r} is not on {domain!r}")
    if message.chain_id != chain_id:
        raise SiweError(f"the message is for chain {message.chain_id}, this marketplace runs on chain {chain_id}")
    if message.nonce != nonce:
        raise SiweError("the message's nonce is not the one this server issued for the sign-in")
    issued = _timestamp(message.issued_at, "Issued At")
    if (now - issued).total_seconds() > max_age_s or (issued - now).total_seconds() > 60:
        raise SiweError(f"the message was issued at {message.issued_at}, outside the accepted window")
    if message.expiration_time and now >= _timestamp(message.expiration_time, "Expiration Time"):
        raise SiweError(f"the message expired at {message.expiration_time}")
    if message.not_before and now < _timestamp(message.not_before, "Not Before"):
        raise SiweError(f"the message is not valid before {message.not_before}")
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=signature)
    except (ValueError, TypeError) as exc:
        raise SiweError(f"the signature cannot be read: {exc}") from None
    if signer != message.address:
        raise SiweError(f"the signature is by {signer}, not by {message.address}")
    return message
