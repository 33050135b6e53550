"""The demo: the sample catalog signed, verified, built, run and audited, all offline.

Everything happens inside one folder (default ``./sealbook-demo``) marked as the
demo's own; a rerun starts it clean. The user's own logs, policies and releases are
never touched: every path is inside that folder and passed explicitly.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import SealbookError, UsageError

MARKER = ".sealbook-demo"
DEFAULT_DIR = Path("sealbook-demo")
VERSIONS = ("2026.11.0", "2026.11.1")
# The second release changes these two runbooks (a reviewed wording fix and a new check).
CHANGED = {
    "hosts/disk-full": "\n## Review note\n\nReviewed after the 2026-11 incident review: check inode usage too (`df -i`).\n",
    "tls/certificate-expiry": "\n## Review note\n\nRenewals now go through the ACME client first; manual issuance is the fallback.\n",
}


class DemoError(SealbookError):
    """The demo cannot proceed."""


def sample_runbooks() -> Path:
    """The sample catalog: shipped in the wheel, or the repository's ``runbooks/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sample_runbooks", here.parent / "runbooks"):
        if candidate.is_dir():
            return candidate
    raise DemoError("sample catalog", "not found in the installed package", "reinstall sealbook")


def prepare(folder: Path) -> None:
    """Make ``folder`` an empty demo folder; refuse to clear a folder that is not the demo's."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(
                str(folder), "exists and is not a folder", "pass --dir with another path"
            )
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise UsageError(
                str(folder),
                "exists, is not empty and is not a sealbook demo folder",
                "pass --dir with a new path",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text(
        "This folder belongs to `sealbook demo`; a rerun deletes and recreates it.\n",
        encoding="utf-8",
    )


@dataclass
class Demo:
    """One demo run; ``say`` prints progress."""

    folder: Path
    say: Callable[[str], None] = print
    done: list[str] = field(default_factory=list)

    @property
    def releases(self) -> Path:
        return self.folder / "releases"

    @property
    def dev_state(self) -> Path:
        return self.folder / "dev-instance"

    @property
    def catalog(self) -> Path:
        return self.folder / "runbooks"

    def run(self) -> None:
        """Every step, in order."""
        from builder.devinstance import DevInstance

        prepare(self.folder)
        shutil.copytree(sample_runbooks(), self.catalog)
        with DevInstance(self.dev_state) as dev:
            self.say(
                f"dev Sigstore instance on loopback (state: {self.dev_state}) [DEV: certifies any identity]"
            )
            self._release(VERSIONS[0])
            for slug, note in CHANGED.items():
                path = self.catalog / f"{slug}.md"
                path.write_text(path.read_text(encoding="utf-8") + note, encoding="utf-8")
            self._release(VERSIONS[1])
            self.policy = dev.policy_path
        self.say("dev instance stopped; everything below is offline verification")
        self._verify_releases()

    def _release(self, version: str) -> None:
        from builder.lint import check_catalog
        from builder.release import make_release
        from builder.runbook import load_catalog
        from builder.sign import SigningTarget

        catalog = load_catalog(self.catalog)
        errors = [p for p in check_catalog(catalog) if p.severity == "error"]
        if errors:
            raise DemoError(
                str(errors[0].path),
                f"sample catalog fails check: {errors[0].message}",
                "run `sealbook check`",
            )
        folder = make_release(
            catalog, version, self.releases, SigningTarget(instance="dev", dev_state=self.dev_state)
        )
        self.say(f"released {version}: {len(catalog.runbooks)} runbooks, signed -> {folder}")

    def _verify_releases(self) -> None:
        from verifier.policy import TrustPolicy
        from verifier.release import verify_releases

        verdict = verify_releases(self.releases, TrustPolicy.load(self.policy))
        if not verdict.ok or verdict.head is None:
            bad = next(r for r in verdict.results if not r.ok)
            raise DemoError(bad.item, f"release verification failed: {bad.reason}", bad.detail)
        head = verdict.head
        self.head_anchor = f"{head.version}:{head.manifest_digest}"
        self.say(
            f"verified {len(verdict.chain)} releases and their chain [DEV]; head {self.head_anchor}"
        )
