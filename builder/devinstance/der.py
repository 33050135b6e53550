"""The three DER encodings the dev CA writes by hand (cryptography has no public encoder)."""

from __future__ import annotations

_UTF8_STRING = 0x0C
_OCTET_STRING = 0x04


def tlv(tag: int, content: bytes) -> bytes:
    """Encode one DER tag-length-value with a definite length (short or long form)."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def utf8_string(text: str) -> bytes:
    """DER UTF8String, as Fulcio encodes its v2 extensions (e.g. the OIDC issuer, .1.8)."""
    return tlv(_UTF8_STRING, text.encode())


def octet_string(content: bytes) -> bytes:
    """DER OCTET STRING, the wrapper RFC 6962 puts around an embedded SCT list."""
    return tlv(_OCTET_STRING, content)
