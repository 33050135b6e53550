"""Dev identity tokens: minted unsigned, read back by the dev CA.

The dev instance is its own identity provider. Its tokens carry no signature
(``alg: none``) because nothing checks one: the emulator certifies whatever
identity the token names. That is what makes its root a skeleton key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from builder.devinstance import ciprovider
from builder.devinstance.errors import RequestRejected

DEV_IDENTITY = "dev@sealbook.invalid"
DEV_ISSUER = "https://dev.sealbook.invalid"

# sigstore-python's IdentityToken insists on this audience (its default client id).
AUDIENCE = "sigstore"
TOKEN_LIFETIME_SECONDS = 600


@dataclass(frozen=True)
class Claims:
    """What the dev CA certifies: the identity (email or URI), the OIDC issuer, CI extensions."""

    identity: str
    issuer: str
    extensions: tuple[ciprovider.Extension, ...] = ()
    """Fulcio extensions derived from a CI provider's claims (see `ciprovider`)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(obj: object) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def identity_token(
    identity: str = DEV_IDENTITY,
    issuer: str = DEV_ISSUER,
    extra_claims: Mapping[str, object] | None = None,
) -> str:
    """Return an unsigned JWT for ``identity`` from ``issuer``, valid for ten minutes.

    It holds the claims sigstore-python requires (aud, sub, iat, exp, iss) plus
    ``email``; the identity goes in both ``sub`` and ``email``. ``extra_claims`` (e.g.
    `ciprovider.github_actions_claims`) are added and win; a CI token names no email.
    """
    if extra_claims is not None:
        return ci_token(extra_claims)
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    payload = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": identity,
        "email": identity,
        "email_verified": True,
        "iat": now,
        "nbf": now - 5,
        "exp": now + TOKEN_LIFETIME_SECONDS,
    }
    # An empty third segment: the JWS compact form of an unsigned token.
    return f"{_b64url_json(header)}.{_b64url_json(payload)}."


def ci_token(claims: Mapping[str, object]) -> str:
    """An unsigned JWT holding a CI provider's ``claims`` (they include ``iss`` and ``sub``)."""
    now = int(time.time())
    payload = {
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now - 5,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        **claims,
    }
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(payload)}."


def read_claims(token: str, now: float | None = None) -> Claims:
    """Read the identity and issuer from a dev token; reject a malformed or expired one.

    Only the shape and the time are checked: the dev instance certifies any identity.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise RequestRejected("identity token is not a JWT", status=401)
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError) as exc:
        raise RequestRejected(f"identity token payload is unreadable: {exc}", 401) from exc
    if not isinstance(payload, dict):
        raise RequestRejected("identity token payload is not a JSON object", 401)
    audience = payload.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if AUDIENCE not in audiences:
        raise RequestRejected(f"identity token audience must be {AUDIENCE!r}", 401)
    exp = payload.get("exp")
    if not isinstance(exp, int) or exp <= (time.time() if now is None else now):
        raise RequestRejected("identity token has expired or has no exp claim", 401)
    issuer = payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise RequestRejected("identity token has no iss claim", 401)
    # Like Fulcio: a CI provider's token is certified as its workflow, with its claims.
    derived = ciprovider.derive(issuer, payload)
    if derived is not None:
        san, extensions = derived
        return Claims(identity=san, issuer=issuer, extensions=tuple(extensions))
    identity = payload.get("email", payload.get("sub"))
    if not isinstance(identity, str) or not identity:
        raise RequestRejected("identity token has neither an email nor a sub claim", 401)
    return Claims(identity=identity, issuer=issuer)
