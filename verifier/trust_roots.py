"""The trust roots sealbook ships: a pinned copy of Sigstore's production trusted root."""

from __future__ import annotations

import sys
from pathlib import Path

PRODUCTION_ROOT = Path(__file__).parent / "trust" / "production-trusted-root.json"
PRODUCTION_ROOT_PINNED = "2026-11-28"
PRODUCTION_ROOT_SOURCE = "sigstore 4.5.1 embedded production trusted root"
BUILTIN_PRODUCTION = "builtin:production"


def refresh() -> int:  # pragma: no cover - needs the network; a maintainer's tool
    """Fetch the current production root via sigstore's TUF client and pin it (maintainers)."""
    import datetime

    from sigstore.models import ClientTrustConfig

    root = ClientTrustConfig.production(offline=False).trusted_root
    PRODUCTION_ROOT.write_text(root._inner.to_json(), encoding="utf-8")
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    source = Path(__file__)
    text = source.read_text(encoding="utf-8").replace(
        f'PRODUCTION_ROOT_PINNED = "{PRODUCTION_ROOT_PINNED}"',
        f'PRODUCTION_ROOT_PINNED = "{today}"',
    )
    source.write_text(text, encoding="utf-8")
    print(f"pinned {PRODUCTION_ROOT} on {today}; review and commit the diff")
    return 0


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["refresh"]:
        raise SystemExit(refresh())
    print("usage: python -m verifier.trust_roots refresh", file=sys.stderr)
    raise SystemExit(2)
