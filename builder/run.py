"""Run one pinned snippet of a signed release, exactly as signed, and record it.

`run_snippet` is the in-process API behind ``sealbook run``::

    from builder.run import RunTarget, run_snippet
    from verifier.policy import TrustPolicy

    outcome = run_snippet(
        RunTarget.parse("kubernetes/KubePodCrashLooping@2026.11.1", "describe-pod", HEX),
        TrustPolicy.load(policy_path),
        releases=Path("releases"),          # or site="https://runbooks.example.com/"
        log=Path("runs.jsonl"),             # default: default_log_path()
    )
    outcome.exit_code                       # the snippet's status

It raises `RefusedError` (exit 125, a ``refused`` record appended, nothing run) when
the release cannot be had or does not verify offline under the policy, the signer is
not allowed, the runbook or snippet is not in the release, the snippet is a reference
block, its digest differs from ``--sha256``, or a declared parameter is unset or empty.

Execution: the verified signed text is passed as one argument, never re-read and never
through stdin (the snippet may read stdin)::

    /bin/bash --noprofile --norc -c "$SIGNED_TEXT" sealbook-run

with bash's defaults (no ``set -e``/``pipefail``: the snippet runs as its author tested
it when pasting it), and an environment from which ``BASH_ENV``, ``ENV``,
``SHELLOPTS``, ``BASHOPTS``, ``CDPATH``, ``GLOBIGNORE`` and exported functions
(``BASH_FUNC_*``) are removed. stdin is inherited; stdout and stderr are streamed live
through pipes that also hash them (and store them with ``capture``).

This module must not import mkdocs or the site builder (a test holds it to that).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.execute import Execution, execute
from builder.fetch import FetchError, SignedFiles, fetch_release, newest_in_folder, newest_on_site
from builder.fetch import read_release as read_release_folder
from builder.runlog import (
    LOG_ENV,
    RunLog,
    default_log_path,
    invoking_user,
    local_identity,
    new_run_id,
)
from builder.verdict_cache import VerdictCache, default_cache_dir, verdict_key
from verifier.digests import digest
from verifier.errors import InputError, RefusedError, UsageError, VerificationError
from verifier.manifest import Snippet, valid_slug, valid_snippet_id, valid_version
from verifier.pinned import SignedManifest, check_signed_manifest, verify_signed_manifest
from verifier.policy import TrustPolicy
from verifier.runlog import MAX_TEXT, Head, format_time, secret_digest

MAX_PARAM_CHARS = 4 * MAX_TEXT
"""The longest parameter value a run record holds (`verifier.runlog.params_problem`)."""
MAX_TEXT_BYTES = 128 * 1024 - 1
"""Linux's limit for one execve argument (MAX_ARG_STRLEN) minus the NUL."""


def param_value_problem(value: str) -> str | None:
    """Why a parameter value cannot be recorded as run, or None.

    Environment values that are not UTF-8 reach Python as lone surrogates: the log could
    not hold the exact value that would run, so the run is refused (and recorded).
    """
    if len(value) > MAX_PARAM_CHARS:
        return f"is {len(value)} characters long, over the limit of {MAX_PARAM_CHARS}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not UTF-8 text"
    return None


@dataclass(frozen=True)
class RunTarget:
    """What to run: ``SLUG@RELEASE SNIPPET_ID --sha256 HEX``."""

    slug: str
    release: str
    snippet_id: str
    sha256: str
    """``sha256:<64 hex>``."""

    @classmethod
    def parse(cls, ref: str, snippet_id: str, sha256: str) -> RunTarget:
        """Parse the command line's pinned reference; raise `UsageError` if malformed."""
        slug, at, release = ref.rpartition("@")
        if not at or not valid_slug(slug) or not valid_version(release):
            raise UsageError(ref, "expected SLUG@RELEASE", "copy the pinned command from the site")
        if not valid_snippet_id(snippet_id):
            raise UsageError(
                snippet_id, "not a snippet id", "copy the pinned command from the site"
            )
        hex_digest = sha256.lower().removeprefix("sha256:")
        if len(hex_digest) != 64 or any(c not in "0123456789abcdef" for c in hex_digest):
            raise UsageError(sha256, "--sha256 needs 64 hex digits", "copy the pinned command")
        return cls(slug, release, snippet_id, "sha256:" + hex_digest)

    def __str__(self) -> str:
        return f"{self.slug}@{self.release} {self.snippet_id}"


@dataclass(frozen=True)
class RunOutcome:
    """What happened: the snippet's status and the records written."""

    run_id: str
    exit_code: int
    duration_ms: int
    stdout_digest: str
    stderr_digest: str
    head: Head
    """The log head after the ``finished`` record."""
    release: SignedManifest
    newest: str | None
    """The newest release known to descend from this one (None when unknown)."""


@dataclass
class _Prepared:
    signed: SignedManifest
    snippet: Snippet
    params: dict[str, str]
    newest: str | None


@dataclass
class RunOptions:
    """Where releases, the log, the cache and the output go; defaults are the CLI's."""

    releases: Path | None = None
    site: str | None = None
    log: Path | None = None
    capture: Path | None = None
    dry_run: bool = False
    env: Mapping[str, str] | None = None
    cache: VerdictCache | None = field(default_factory=lambda: VerdictCache(default_cache_dir()))
    out_fd: int = 1
    err_fd: int = 2
    say: Callable[[str], None] = field(default=lambda line: _say(line))


def _say(line: str) -> None:
    sys.stderr.write(f"sealbook: {line}\n")
    sys.stderr.flush()


def run_snippet(
    target: RunTarget, policy: TrustPolicy, options: RunOptions | None = None, **kwargs: Any
) -> RunOutcome:
    """Verify ``target`` under ``policy``, run it, record it; see the module docstring.

    ``kwargs`` are `RunOptions` fields (``releases=``, ``site=``, ``log=``, ...).
    """
    opts = options or RunOptions(**kwargs)
    env = os.environ if opts.env is None else opts.env
    asked = opts.log or (default_log_path(env) if env.get(LOG_ENV) else None)
    log = RunLog(policy.run_log or asked or default_log_path(env))
    host, user = local_identity()
    record: dict[str, Any] = {
        "run_id": new_run_id(),
        "host": host,
        "user": user,
        "invoker": invoking_user(env),
        "slug": target.slug,
        "release": target.release,
        "manifest_digest": None,
        "snippet_id": target.snippet_id,
        "snippet_digest": target.sha256,
        "params": {},
    }
    try:
        _check_log(target, policy, asked)
        prepared = _prepare(target, policy, opts, env, record)
    except RefusedError as exc:
        if not opts.dry_run:
            refused = {**record, "type": "refused", "reason": exc.reason}
            log.append({**refused, "time": _now(), "detail": exc.diagnostics()[:1024]})
        raise
    _announce(target, prepared, opts)
    if opts.dry_run:
        return _dry_run(target, prepared, opts, log, record)
    log.append({**record, "type": "started", "time": _now()})
    secrets = {name: prepared.params[name] for name in prepared.snippet.secrets}
    result = execute(
        prepared.snippet.text, env, opts.capture, opts.out_fd, opts.err_fd, secrets=secrets
    )
    head = log.append({**record, "type": "finished", "time": _now(), **result.fields()})
    return _outcome(record, result, head, prepared)


def _check_log(target: RunTarget, policy: TrustPolicy, asked: Path | None) -> None:
    """Refuse a log other than the one the policy pins (``[run] log``); the refusal goes there."""
    pinned = policy.run_log
    if pinned is None or asked is None or _same_path(asked, pinned):
        return
    raise _refuse(
        "log-diverted",
        target,
        f"the policy {policy.source} pins the run log to {pinned}, not {asked}",
        "drop --log and unset $SEALBOOK_LOG (this refusal is recorded in the pinned log)",
    )


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve(strict=False) == b.resolve(strict=False)


def _now() -> str:
    from datetime import UTC, datetime

    return format_time(datetime.now(UTC))


def _outcome(
    record: dict[str, Any], result: Execution, head: Head, prepared: _Prepared
) -> RunOutcome:
    return RunOutcome(
        run_id=record["run_id"],
        exit_code=result.exit_code,
        duration_ms=result.duration_ms,
        stdout_digest=result.stdout_digest,
        stderr_digest=result.stderr_digest,
        head=head,
        release=prepared.signed,
        newest=prepared.newest,
    )


def _dry_run(
    target: RunTarget, prepared: _Prepared, opts: RunOptions, log: RunLog, record: dict[str, Any]
) -> RunOutcome:
    """Verify only: show the exact text that would run; write nothing to the log."""
    text = prepared.snippet.text.encode("utf-8")
    os.write(opts.out_fd, text)
    opts.say(f"dry run: {target} verified; would run /bin/bash --noprofile --norc -c <text above>")
    empty = digest(b"")
    return RunOutcome(
        record["run_id"], 0, 0, empty, empty, log.tail().last, prepared.signed, prepared.newest
    )


def _announce(target: RunTarget, prepared: _Prepared, opts: RunOptions) -> None:
    signature = prepared.signed.signature
    dev = " [DEV root: proves nothing in production]" if signature.dev else ""
    if prepared.newest is None:
        newest = "newest release: unknown"
    elif prepared.newest == target.release:
        newest = "the newest release known"
    else:
        newest = f"NOT the newest release: {prepared.newest} is newer"
    opts.say(
        f"{target} {target.sha256} verified: signed by {signature.identity} at "
        f"{signature.signed_at:%Y-%m-%dT%H:%M:%SZ}{dev}; {newest}"
    )


def _refuse(reason: str, target: RunTarget, problem: str, next_step: str) -> RefusedError:
    return RefusedError(reason, f"refused {target}", problem, next_step)


def _prepare(
    target: RunTarget,
    policy: TrustPolicy,
    opts: RunOptions,
    env: Mapping[str, str],
    record: dict[str, Any],
) -> _Prepared:
    """Resolve, verify and check everything; fill ``record`` as facts become known."""
    files = _resolve(target, opts)
    record["manifest_digest"] = digest(files.manifest)
    signed = _verify(target, policy, files, opts.cache)
    snippet = _snippet(target, signed)
    params = {}
    for name in snippet.params:
        value = env.get(name, "")
        if not value:
            raise _refuse(
                "param-missing",
                target,
                f"declared parameter {name} is not set (or empty)",
                f"export {name}=... and run again",
            )
        problem = param_value_problem(value)
        if problem is not None:
            raise _refuse(
                "param-invalid",
                target,
                f"declared parameter {name} {problem}",
                f"set {name} to UTF-8 text of at most {MAX_PARAM_CHARS} characters",
            )
        params[name] = value
        record["params"] = {
            k: secret_digest(record["run_id"], v) if k in snippet.secrets else v
            for k, v in params.items()
        }
    if opts.site is not None:
        newest = newest_on_site(opts.site)
    else:
        newest = newest_in_folder(opts.releases or Path("releases"), target.release)
    return _Prepared(signed, snippet, params, newest)


def _resolve(target: RunTarget, opts: RunOptions) -> SignedFiles:
    try:
        if opts.site is not None:
            return fetch_release(opts.site, target.release)
        return read_release_folder((opts.releases or Path("releases")) / target.release)
    except FetchError as exc:
        raise _refuse(exc.reason, target, exc.diagnostics(), "nothing ran") from None


def _verify(
    target: RunTarget, policy: TrustPolicy, files: SignedFiles, cache: VerdictCache | None
) -> SignedManifest:
    """Verify offline, or reuse a cached verdict over exactly these bytes and this policy."""
    key = verdict_key(digest(files.manifest), digest(files.bundle), policy.fingerprint)
    facts = cache.get(key) if cache is not None else None
    try:
        if facts is not None:
            return check_signed_manifest(
                files.manifest, files.bundle, facts, files.origin, target.release, checked=True
            )
        signed = verify_signed_manifest(
            files.manifest, files.bundle, policy, files.origin, target.release
        )
    except VerificationError as exc:
        raise _refuse(exc.reason, target, exc.diagnostics(), "nothing ran") from None
    except InputError as exc:
        reason = "bundle-malformed" if "bundle" in exc.subject else "manifest-malformed"
        raise _refuse(reason, target, exc.diagnostics(), "nothing ran") from None
    if cache is not None:
        cache.put(key, signed.signature)
    return signed


def _snippet(target: RunTarget, signed: SignedManifest) -> Snippet:
    """The snippet to run, after every check that can refuse it."""
    runbook = signed.manifest.runbook(target.slug)
    if runbook is None:
        raise _refuse(
            "runbook-unknown",
            target,
            f"release {target.release} has no runbook {target.slug}",
            "check the slug",
        )
    snippet = runbook.snippet(target.snippet_id)
    if snippet is None:
        raise _refuse(
            "snippet-unknown",
            target,
            f"{target.slug}@{target.release} has no snippet {target.snippet_id}",
            "check the snippet id",
        )
    if not snippet.executable:
        raise _refuse(
            "snippet-not-executable",
            target,
            f"{snippet.id} is a {snippet.language} reference block",
            "reference blocks are never run",
        )
    if snippet.digest != target.sha256:
        raise _refuse(
            "snippet-digest-mismatch",
            target,
            f"--sha256 {target.sha256} differs from the signed {snippet.digest}",
            "copy the pinned command of this release again",
        )
    if len(snippet.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise _refuse(
            "snippet-not-executable",
            target,
            "signed text is larger than 128 KiB, the limit of one bash -c argument",
            "split the snippet",
        )
    return snippet


__all__ = ["RunOptions", "RunOutcome", "RunTarget", "run_snippet"]
