"""Digests over exact bytes, and canonical JSON (RFC 8785)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import rfc8785

PREFIX = "sha256:"
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def is_digest(value: object) -> bool:
    """True for a well-formed ``sha256:<64 lower-case hex>`` string."""
    return isinstance(value, str) and _DIGEST_RE.fullmatch(value) is not None


def signed_text(text: str) -> str:
    """A snippet's signed text: CRLF/CR turned into LF and exactly one trailing LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n"


def snippet_digest(text: str) -> str:
    """Digest of a snippet's signed text (UTF-8)."""
    return digest(signed_text(text).encode("utf-8"))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``."""
    return bytes(rfc8785.dumps(value))
