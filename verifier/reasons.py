"""Every reason code a verifier result can carry, in precedence order.

When several problems apply to one item, the result carries the code that comes
first in this table (the most fundamental failure wins). ``docs/reason-codes.md``
is generated from this table by ``python -m verifier.reasons``.
"""

from __future__ import annotations

# (code, meaning). Order is precedence: earlier wins.
REASONS: tuple[tuple[str, str], ...] = (
    ("verified", "the item verified"),
    # -- inputs -----------------------------------------------------------------
    ("input-unreadable", "the file is missing or cannot be read"),
    ("record-malformed", "a log line is not a JSON object of the run-record schema"),
    ("log-truncated", "the last log line is torn (no final newline / not JSON)"),
    ("bundle-malformed", "the Sigstore bundle cannot be parsed"),
    ("manifest-malformed", "manifest.json is not a valid sealbook.release/v1 manifest"),
    # -- signatures and trust ---------------------------------------------------
    (
        "signature-invalid",
        "the Sigstore bundle does not verify for these bytes under the trusted root",
    ),
    (
        "signer-not-allowed",
        "the signature verifies but no signer rule of the policy (issuer, identity, claims) allows it",
    ),
    ("dev-root-not-allowed", "signed under a dev root that the policy does not list"),
    (
        "manifest-digest-mismatch",
        "manifest.json differs from the bytes that were signed or anchored",
    ),
    ("version-mismatch", "the manifest's version differs from its folder name"),
    (
        "release-file-not-regular",
        "a file or folder of the release is a symbolic link, FIFO or device (even to identical bytes)",
    ),
    ("source-missing", "a frozen runbook source named by the manifest is missing or unreadable"),
    ("source-digest-mismatch", "a frozen runbook source differs from its digest in the manifest"),
    ("source-unexpected", "a file in the release folder is not named by the manifest"),
    (
        "snippet-digest-mismatch",
        "a snippet's signed text (or the digest used) differs from the signed digest",
    ),
    # -- release chain ----------------------------------------------------------
    ("release-chain-broken", "previous points at a release that is missing or has another digest"),
    ("release-chain-fork", "two releases name the same predecessor"),
    ("release-chain-genesis", "not exactly one release without a predecessor"),
    ("release-chain-orphan", "a release is not reachable from the genesis release"),
    ("release-time-order", "a release was signed no later than its predecessor"),
    ("release-not-latest", "the chain head differs from the anchored --expect-latest"),
    ("release-unknown", "a record or page names a release that does not exist or did not verify"),
    # -- snippets ---------------------------------------------------------------
    ("snippet-unknown", "the snippet id is not in that runbook of that release"),
    ("snippet-not-executable", "the snippet is a reference block; it can never run"),
    ("runbook-unknown", "the runbook slug is not in that release"),
    ("param-missing", "a parameter the snippet declares was not set"),
    ("param-invalid", "a declared parameter's value is over the limit or not UTF-8 text"),
    (
        "log-diverted",
        "sealbook run was told to log elsewhere (--log, $SEALBOOK_LOG) than the policy's [run] log",
    ),
    # -- site -------------------------------------------------------------------
    # The site is proven by reproduction: each served file equals the re-rendered one or fails.
    # A preview page is wholly unsigned: that is the diagnosis that matters, whatever else differs.
    ("site-unsigned-preview", "the file was built by `sealbook preview` from unsigned sources"),
    (
        "site-latest-mismatch",
        "site-manifest.json names another chain head than the verified one (a stale build)",
    ),
    ("site-file-missing", "the reproduction has this file; the site does not"),
    (
        "site-file-unexpected",
        "the site has this file (or a symbolic link, FIFO or device) and the reproduction does not",
    ),
    ("site-file-modified", "the file's bytes differ from the reproduction's"),
    # -- run log ----------------------------------------------------------------
    ("log-chain-broken", "prev does not equal the sha256 of the previous line's raw bytes"),
    ("log-sequence-gap", "the sequence number does not follow the previous record's"),
    ("log-head-mismatch", "the log's head differs from the anchored --expect-head"),
    (
        "log-unproven",
        "the record checks by itself, but the --expect-head anchor after it failed: "
        "the log may have been rewritten up to there, so nothing before it is proven",
    ),
    (
        "run-before-release",
        "the run started before its release's verified signing time (beyond skew)",
    ),
    (
        "record-time-future",
        "the record's time is after the verification time plus the clock skew",
    ),
    (
        "log-time-backwards",
        "the record's time is earlier than a time recorded before it in the log, beyond the skew",
    ),
    ("run-finished-before-started", "a finished record's time is before its started record's"),
    ("run-unfinished", "a started run has no finished record"),
    (
        "run-unmatched",
        "a finished record has no open started record of its run id, or its run fields differ",
    ),
    ("run-refused", "sealbook run refused this run; nothing ran (reported, not a failure)"),
    ("log-recovered", "a torn line was found and recorded by a recovered record (reported)"),
    (
        "verified-unanchored",
        "the record verified, but comes after the anchored --expect-head: only the chain "
        "vouches for it, and a writer of the log could rewrite it (reported, not a failure)",
    ),
)

CODES: frozenset[str] = frozenset(code for code, _ in REASONS)
_RANK = {code: i for i, (code, _) in enumerate(REASONS)}


def precedence(code: str) -> int:
    """Rank of ``code``: lower wins when several problems apply to one item."""
    return _RANK[code]


def first(codes: list[str]) -> str:
    """The code of highest precedence among ``codes``."""
    return min(codes, key=precedence)


HEADER = """# Reason codes

Every verifier result carries one code. When several problems apply to one item, the
code that comes first (lowest precedence number) is reported. `verified`,
`verified-unanchored`, `run-refused` and `log-recovered` are reported without failing the
item; every other code fails it.
Generated from `verifier/reasons.py` by `python -m verifier.reasons > docs/reason-codes.md`;
a test keeps the two equal.

"""


def markdown_table() -> str:
    """docs/reason-codes.md: the header and the table."""
    rows = [HEADER + "| precedence | code | meaning |", "|---|---|---|"]
    rows += [f"| {i} | `{code}` | {text} |" for i, (code, text) in enumerate(REASONS)]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
