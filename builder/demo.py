"""The demo: the sample catalog signed, verified, built, run and audited, all offline.

Everything happens inside one folder (default ``./sealbook-demo``) marked as the
demo's own; a rerun starts it clean. The user's own logs, policies and releases are
never touched: every path is inside that folder and passed explicitly.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import SealbookError, UsageError

MARKER = ".sealbook-demo"
RUN_SLUG, RUN_SNIPPET = "hosts/disk-full", "smoke-check"
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
        self.say("dev instance stopped; everything below is offline")
        self._verify_releases()
        self._build_site()
        self._run_snippet()
        self._audit()
        self._summary()

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

    # -- site, run, audit ----------------------------------------------------------

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def log(self) -> Path:
        return self.folder / "runs.jsonl"

    def _cli(self, main: Callable[[list[str]], int], argv: list[str], what: str) -> str:
        """Run a CLI in-process, keep its output, fail the demo if it fails."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        if code != 0:
            raise DemoError(
                what,
                f"exit {code}: {(err.getvalue() or out.getvalue()).strip()[-400:]}",
                "rerun with --verbose",
            )
        return out.getvalue()

    def _build_site(self) -> None:
        from builder._cli import main

        out = self._cli(
            main,
            [
                "build",
                "--releases",
                str(self.releases),
                "--out",
                str(self.site),
                "--policy",
                str(self.policy),
                "--expect-latest",
                self.head_anchor,
                "--cache-dir",
                str(self.folder / "verdict-cache"),
            ],
            "sealbook build",
        )
        self.say(out.splitlines()[0] if out else f"built {self.site}")
        from verifier._cli import main as verify

        report = self._cli(
            verify,
            [
                "site",
                str(self.site),
                "--releases",
                str(self.releases),
                "--policy",
                str(self.policy),
                "--expect-latest",
                self.head_anchor,
            ],
            "sealbook-verify site",
        )
        self.say(f"sealbook-verify site: {report.strip().splitlines()[-1]}")

    def _run_snippet(self) -> None:
        from builder.run import RunTarget, run_snippet
        from builder.verdict_cache import VerdictCache
        from verifier.manifest import Manifest
        from verifier.policy import TrustPolicy

        version = self.head_anchor.split(":", 1)[0]
        manifest = Manifest.from_bytes((self.releases / version / "manifest.json").read_bytes())
        runbook = manifest.runbook(RUN_SLUG)
        snippet = runbook.snippet(RUN_SNIPPET) if runbook else None
        if snippet is None:
            raise DemoError(
                RUN_SLUG, f"sample catalog has no snippet {RUN_SNIPPET!r}", "restore runbooks/"
            )
        command = f"sealbook run {RUN_SLUG}@{version} {RUN_SNIPPET} --sha256 {snippet.digest.removeprefix('sha256:')}"
        self.say(f"running the pinned command: {command}")
        outcome = run_snippet(
            RunTarget.parse(f"{RUN_SLUG}@{version}", RUN_SNIPPET, snippet.digest),
            TrustPolicy.load(self.policy),
            releases=self.releases,
            log=self.log,
            cache=VerdictCache(self.folder / "verdict-cache"),
            say=lambda line: self.say(f"  {line}"),
        )
        if outcome.exit_code != 0:
            raise DemoError(
                command, f"the snippet exited {outcome.exit_code}", "see its output above"
            )
        self.log_head = f"{outcome.head}"
        self.say(f"run recorded in {self.log}; log head {self.log_head}")

    def _audit(self) -> None:
        from verifier._cli import main as verify

        report = self._cli(
            verify,
            [
                "logs",
                str(self.log),
                "--releases",
                str(self.releases),
                "--policy",
                str(self.policy),
                "--expect-head",
                self.log_head,
            ],
            "sealbook-verify logs",
        )
        self.say(f"sealbook-verify logs: {report.strip().splitlines()[-1]}")

    def _summary(self) -> None:
        p = self.policy
        self.say("")
        self.say(
            f"done. Everything is in {self.folder}/ (signed by a DEV instance: proves nothing in production)"
        )
        self.say(f"  open the catalog:  {(self.site / 'index.html').absolute().as_uri()}")
        self.say(f"  releases:          {self.releases}/   policy: {p}")
        self.say(
            f"  audit again:       sealbook-verify releases {self.releases} --policy {p} --expect-latest {self.head_anchor}"
        )
        self.say(
            f"                     sealbook-verify site {self.site} --releases {self.releases} --policy {p}"
        )
        self.say(
            f"                     sealbook-verify logs {self.log} --releases {self.releases} --policy {p} --expect-head {self.log_head}"
        )
