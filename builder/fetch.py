"""Get a release's signed files for `sealbook run`: from a releases folder or a published site.

Only ``manifest.json`` and ``manifest.json.sigstore.json`` are needed (the manifest
carries every snippet's signed text). They are read into memory with size limits and,
over HTTP, timeouts; nothing is written to disk, so the bytes verified are the bytes
run, with no file in between that could change. The trust policy never comes from
here: a site or a releases folder only ever supplies bytes to verify.

``--from SITE`` is the site root: a folder, a ``file://`` URL or an ``http(s)://`` URL,
laid out as ``releases/<version>/manifest.json`` (+ bundle) beside ``assets/versions.js``.
Which release is newest is read from the releases folder's ``previous`` links or from
the site's ``assets/versions.js``; it is advice for the operator and is not verified.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlparse

from verifier.errors import InputError, SealbookError
from verifier.files import read_limited, read_regular
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME

# verifier.release's limits; not imported, to keep a warm `sealbook run` light.
MAX_MANIFEST_BYTES = 64 << 20
MAX_BUNDLE_BYTES = 1 << 20

TIMEOUT_SECONDS = 15.0
VERSIONS_JS = "assets/versions.js"  # verifier/sitelayout.py's layout
_PREVIOUS_RE = re.compile(
    rb'"previous":\{"manifest_digest":"sha256:[0-9a-f]{64}","version":"([^"]+)"\}'
)


class FetchError(SealbookError):
    """The signed files cannot be had; ``reason`` is the refusal's reason code."""

    def __init__(self, reason: str, subject: str, problem: str, next_step: str = "") -> None:
        self.reason = reason
        super().__init__(subject, problem, next_step)


@dataclass(frozen=True)
class SignedFiles:
    """A release's manifest and bundle bytes, and where they came from."""

    manifest: bytes
    bundle: bytes
    origin: str


def _is_url(site: str) -> bool:
    return site.startswith(("http://", "https://"))


def _as_path(site: str) -> Path:
    if site.startswith("file://"):
        return Path(unquote(urlparse(site).path))
    return Path(site)


def read_release(folder: Path) -> SignedFiles:
    """The signed files of a release folder (``<releases>/<version>``)."""
    if not folder.is_dir():
        raise FetchError(
            "release-unknown", str(folder), "no such release", "check SLUG@RELEASE and --releases"
        )
    try:
        manifest = read_limited(folder / MANIFEST_NAME, MAX_MANIFEST_BYTES, "manifest.json")
        bundle = read_limited(folder / BUNDLE_NAME, MAX_BUNDLE_BYTES, "the Sigstore bundle")
    except InputError as exc:
        raise FetchError("input-unreadable", exc.subject, exc.problem, exc.next_step) from None
    return SignedFiles(manifest, bundle, str(folder))


def fetch_release(site: str, version: str) -> SignedFiles:
    """The signed files of ``version`` from the site root ``site`` (folder or URL)."""
    if not _is_url(site):
        return read_release(_as_path(site) / "releases" / version)
    base = site if site.endswith("/") else site + "/"
    folder = urljoin(base, f"releases/{quote(version)}/")
    manifest = _get(folder + MANIFEST_NAME, MAX_MANIFEST_BYTES)
    bundle = _get(folder + BUNDLE_NAME, MAX_BUNDLE_BYTES)
    return SignedFiles(manifest, bundle, folder)


def _get(url: str, limit: int) -> bytes:
    """GET ``url`` with a timeout and a size limit."""
    import urllib.error  # only `--from URL` pays for the HTTP stack
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "sealbook-run"})  # noqa: S310 - http(s) only, checked by the caller
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        reason = "release-unknown" if exc.code in (404, 410) else "input-unreadable"
        raise FetchError(reason, url, f"HTTP {exc.code}", "check SLUG@RELEASE and --from") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise FetchError(
            "input-unreadable", url, f"cannot fetch ({why})", "check --from and the network"
        ) from None
    if len(data) > limit:
        raise FetchError(
            "input-unreadable", url, f"larger than {limit >> 20} MiB", "is --from the site root?"
        )
    return data


def newest_in_folder(releases: Path, version: str) -> str | None:
    """The newest release descending from ``version`` in a releases folder (unverified)."""
    successor: dict[str, str] = {}
    try:
        folders = [p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return None
    for folder in folders:
        try:
            start = read_regular(folder / MANIFEST_NAME, 4096)  # "previous": the second key
        except OSError:
            continue
        match = _PREVIOUS_RE.search(start)
        if match is not None:
            successor[match.group(1).decode("utf-8", "replace")] = folder.name
    current, seen = version, {version}
    while current in successor and successor[current] not in seen:
        current = successor[current]
        seen.add(current)
    return current


def newest_on_site(site: str) -> str | None:
    """The head release named by the site's ``assets/versions.js`` (unverified), if any."""
    try:
        if _is_url(site):
            base = site if site.endswith("/") else site + "/"
            raw = _get(urljoin(base, VERSIONS_JS), 16 << 20)
        else:
            raw = read_limited(_as_path(site) / VERSIONS_JS, 16 << 20, "versions.js")
        text = raw.decode("utf-8").strip()
        data = json.loads(text[text.index("{") : text.rindex("}") + 1])
        head = data.get("head") if isinstance(data, dict) else None
    except (SealbookError, ValueError):
        return None
    return head if isinstance(head, str) else None
