"""Time `sealbook build` at 100, 500 and 2,000 runbooks against stock mkdocs-material.

    .venv/bin/python benchmarks/build_scale.py [--sizes 100,500,2000] [--skip-stock] [--keep DIR]

For every size it generates a catalog of synthetic but realistic runbooks (YAML front matter
with service, severity, owners, tags and alerts; ~60 lines; five bash blocks with explicit
ids, a console block, a promql reference block, an admonition and a table), makes 3 releases
(each later one changes 10% of the runbooks: prose and snippet text) signed by the loopback
dev Sigstore instance through the real signing path, then times, each as a child process:

  - `python -m builder._cli build --releases R --out S --policy <dev>/sealbook.dev.toml`
    into a fresh --out (wall time, peak RSS of the child via wait4, pages/s, ms/page);
  - at the largest size, `python -m verifier._cli site S --policy <dev>/sealbook.dev.toml`
    on the freshly built site of the N x 3 chain (before the rebuild below): the proof
    verifies the releases the site publishes, renders the whole site again into a private
    temp folder and compares the exact file set and every byte (wall time, peak RSS);
  - at the largest size, a rebuild into the same --out after one more release that changes
    10 runbooks (released pages are reused, never rendered twice);
  - unless --skip-stock, stock mkdocs-material (`python -m mkdocs build -q`) building only
    the largest size's latest sources as plain Markdown: a plain mkdocs.yml (`theme:
    material`, `font: false`, default navigation), and the tuned variant with the
    `navigation.prune` feature.

"Full pages" are the pages rendered through the theme (role `page` in site-manifest.json:
revisions, diffs, releases, catalog, audit); "all HTML" adds the small alias, latest and
alert pages. Per-page goals use full pages (the stricter figure). Goals (issue 3):
  - the largest N x 3 build <= 0.5x the stock default build of N pages;
  - ms per full page <= the tuned stock build's ms per page;
  - linear growth: the marginal ms per added page of the largest size step is <= 1.25x that
    of the smallest step (a fixed start-up cost makes small builds' ms/page look high);
  - rebuild after one release changing 10 runbooks <= 10% of the full build;
  - proof costs no more than the full build: `sealbook-verify site` of the largest N x 3
    site / its full `sealbook build` <= 1.0 (both from scratch: the build has no previous
    build to reuse, the proof renders every page again).
Verdicts use wall time; CPU time (user + system of the child and the processes it waited
for) and the load average are printed beside it because a busy machine inflates wall time.
Every timed run starts after ``sync`` (untimed), so no run pays for writing out the files of
the one before. The signature verdict cache (`--cache-dir` of `sealbook build`) lives in the
work folder and starts empty: each size's first build verifies every release, the rebuild
only the new one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.release import make_release  # noqa: E402
from builder.runbook import load_catalog  # noqa: E402
from builder.sign import SigningTarget  # noqa: E402

VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
REBUILD_VERSION = "1.3.0"
REBUILD_CHANGES = 10

SERVICES = (
    "api-gateway",
    "auth",
    "billing",
    "cache",
    "checkout",
    "dns",
    "hosts",
    "ingest",
    "kafka",
    "kubernetes",
    "ledger",
    "mail",
    "notifications",
    "object-store",
    "payments",
    "postgres",
    "search",
    "storage",
    "tls",
    "web",
)
PROBLEMS = (
    ("high-latency", "latency is high", "LatencyHigh", "http_request_duration_seconds_sum", 0.5),
    ("error-rate", "error rate above budget", "ErrorRateHigh", "http_requests_errors_total", 5),
    ("saturation", "saturated", "Saturated", "process_cpu_seconds_total", 0.9),
    ("disk-pressure", "disk filling up", "DiskPressure", "node_filesystem_avail_bytes", 10),
    ("memory-leak", "memory keeps growing", "MemoryGrowth", "process_resident_memory_bytes", 2),
    ("restarts", "restarting repeatedly", "Restarting", "kube_pod_container_restarts", 3),
    ("queue-backlog", "queue backlog growing", "BacklogGrowing", "queue_depth_messages", 1000),
    ("cert-expiry", "certificate expires soon", "CertExpiry", "probe_ssl_earliest_expiry", 14),
    ("replica-lag", "replica lagging", "ReplicaLag", "replication_lag_seconds", 60),
    ("dependency-down", "dependency unreachable", "DependencyDown", "probe_success", 1),
)
SEVERITIES = ("critical", "high", "medium", "low")
TAGS = ("latency", "errors", "capacity", "storage", "network", "tls", "database", "queue")

RUNBOOK = """\
---
title: {title}
summary: {service} {problem_text}; find the cause, mitigate, verify and escalate.
service: {service}
severity: {severity}
owners: [{service}-oncall]
tags: [{service}, {tag1}, {tag2}]
alerts:
  - {alert}
  - {alert}Critical
---

# {title}

Fires when `{metric}` on one `{service}` instance crosses {threshold} for 10 minutes
(labels `instance` and `cluster` name the host). Revision {rev} of this runbook.

## Impact

Requests to the affected `{service}` instances are slow or fail; retries load the others.

## Diagnosis

```promql {{#alert-expr}}
max by (instance) (rate({metric}{{service="{service}"}}[5m])) > {threshold}
```

Check the unit and its recent log on the affected host:

```bash {{#unit-status params="HOST"}}
ssh -o BatchMode=yes "${{HOST:?}}" systemctl status {unit} --no-pager
ssh -o BatchMode=yes "${{HOST:?}}" journalctl -u {unit} --since -15min --no-pager | tail -n {tail}
```

```console {{#count-errors params="HOST"}}
$ ssh -o BatchMode=yes "${{HOST:?}}" grep -c ERROR /var/log/{service}/{unit}.log
{errors}
```

| Symptom                    | Likely cause                                  |
|----------------------------|-----------------------------------------------|
| errors after a deploy      | bad release: roll back                        |
| one host only              | hardware, disk or noisy neighbour             |
| every host at once         | dependency or configuration change            |

## Mitigation

!!! warning "Drain before restarting"
    Take the host out of the pool first, or the restart drops in-flight requests.

```bash {{#drain params="HOST"}}
curl -fsS --max-time 5 -X POST "http://${{HOST:?}}:{port}/admin/drain"
```

```bash {{#restart params="HOST"}}
ssh -o BatchMode=yes "${{HOST:?}}" sudo systemctl restart {unit}
```

```bash {{#undrain params="HOST"}}
curl -fsS --max-time 5 -X POST "http://${{HOST:?}}:{port}/admin/undrain"
```

## Verification

```bash {{#health params="HOST"}}
curl -fsS --max-time 5 "http://${{HOST:?}}:{port}/healthz"
```

It resolves when the expression stays under {threshold} for 10 minutes.

## Escalation

Page `{service}-oncall` if the alert keeps firing for 30 minutes after mitigation.
"""


def runbook_text(index: int, rev: int) -> tuple[str, str]:
    """(slug, source) of synthetic runbook ``index`` at revision ``rev``."""
    service = SERVICES[index % len(SERVICES)]
    number = index // len(SERVICES)
    name, text, alert, metric, threshold = PROBLEMS[number % len(PROBLEMS)]
    variant = number // len(PROBLEMS)
    slug = f"{service}/{name}-{variant:03d}"
    camel = "".join(part.capitalize() for part in service.split("-"))
    source = RUNBOOK.format(
        title=f"{service} {text} ({variant})",
        service=service,
        problem_text=text,
        severity=SEVERITIES[index % len(SEVERITIES)],
        tag1=TAGS[index % len(TAGS)],
        tag2=TAGS[(index // 3 + 1) % len(TAGS)],
        alert=f"{camel}{alert}{variant:03d}",
        metric=metric,
        threshold=threshold,
        rev=rev,
        unit=f"{service}-{name}",
        tail=50 + 10 * rev,
        errors=17 * (index % 9) + rev,
        port=8000 + index % 1000,
    )
    return slug, source


def write_catalog(root: Path, revs: list[int]) -> None:
    for index, rev in enumerate(revs):
        slug, source = runbook_text(index, rev)
        path = root / f"{slug}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def change(revs: list[int], count: int, rng: random.Random, catalog: Path) -> None:
    """Give ``count`` random runbooks a new revision and rewrite their files."""
    for index in rng.sample(range(len(revs)), count):
        revs[index] += 1
        slug, source = runbook_text(index, revs[index])
        (catalog / f"{slug}.md").write_text(source, encoding="utf-8")


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    cpu: float
    """User + system CPU seconds of the child (less sensitive to a busy machine than wall)."""
    load: float
    """1-minute load average when the child ended."""
    output: str


def timed(argv: list[str], cwd: Path | None = None) -> Run:
    """Run ``argv`` as a child; wall time and the child's own peak RSS (wait4).

    Dirty pages of whatever ran before are written out first (``sync``, not timed): a build
    right after another must not pay for flushing the other's files.
    """
    os.sync()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{text[-4000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, cpu, os.getloadavg()[0], text)


def sealbook_build(releases: Path, out: Path, policy: Path) -> Run:
    argv = [sys.executable, "-m", "builder._cli", "build"]
    argv += ["--releases", str(releases), "--out", str(out), "--policy", str(policy)]
    return timed(argv, cwd=REPO)


def verify_site(out: Path, policy: Path) -> Run:
    """`sealbook-verify site` of the published site ``out`` (releases: the site's own)."""
    argv = [sys.executable, "-m", "verifier._cli", "site", str(out), "--policy", str(policy)]
    return timed(argv, cwd=REPO)


def verified_files(output: str) -> str:
    """The summary line of `sealbook-verify site` (``N/M files verified; K failed``)."""
    match = re.search(r"\d+/\d+ files verified; \d+ failed", output)
    return match.group(0) if match else "no summary line"


def site_counts(out: Path) -> tuple[int, int]:
    """(full pages, all HTML files) of the published site, from site-manifest.json."""
    files = json.loads((out / "site-manifest.json").read_text(encoding="utf-8"))["files"]
    html = [role for path, role in _roles(files) if path.endswith(".html")]
    return sum(1 for role in html if role == "page"), len(html)


def _roles(files: dict[str, object]) -> list[tuple[str, str]]:
    return [(p, str(f["role"]) if isinstance(f, dict) else "") for p, f in files.items()]


def rendered_reused(output: str) -> tuple[int, int]:
    match = re.search(r"(\d+) pages rendered, (\d+) reused", output)
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def rebuild_floor(site: Path, release: Path, policy: Path, work: Path) -> dict[str, Run]:
    """Two parts of the rebuild no implementation of the issue's contract can skip.

    - ``fresh folder``: the build goes into a new folder (published by an atomic switch), so
      every file and folder of the site is made again; GNU ``cp -al`` of the published build
      (hard links, the cheapest way to make the tree) is that part alone.
    - ``verify new release``: the new release must be verified (Sigstore bundle, manifest,
      frozen sources); ``sealbook-verify release`` of it alone, in its own process.
    """
    copy = work / "floor-copy"
    floors = {"fresh folder": timed(["cp", "-al", str(site.resolve()), str(copy)])}
    shutil.rmtree(copy)
    argv = [sys.executable, "-m", "verifier._cli", "release", str(release), "--policy", str(policy)]
    floors["verify new release"] = timed(argv, cwd=REPO)
    return floors


def dir_mb(path: Path) -> float:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(dirpath, name)).st_size  # noqa: PTH118
    return total / 1e6


STOCK_YML = """\
site_name: Runbooks (stock)
theme:
  name: material
  font: false
{features}"""


def stock_build(sources: Path, work: Path, prune: bool) -> tuple[Run, int, float]:
    """Stock material over the plain Markdown sources; (run, pages, site MB)."""
    project = work / ("stock-prune" if prune else "stock-default")
    docs = project / "docs"
    shutil.copytree(sources, docs)
    (docs / "index.md").write_text("# Runbooks\n\nThe runbook catalog.\n", encoding="utf-8")
    features = "  features:\n    - navigation.prune\n" if prune else ""
    (project / "mkdocs.yml").write_text(STOCK_YML.format(features=features), encoding="utf-8")
    run = timed([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=project)
    site = project / "site"
    pages = sum(1 for _ in docs.rglob("*.md"))
    mb = dir_mb(site)
    shutil.rmtree(project)
    return run, pages, mb


@dataclass
class SizeResult:
    size: int
    sign_seconds: float
    run: Run
    full_pages: int
    html: int
    site_mb: float

    @property
    def ms_per_page(self) -> float:
        return self.run.seconds * 1000 / self.full_pages

    @property
    def ms_per_html(self) -> float:
        return self.run.seconds * 1000 / self.html


def make_size(work: Path, size: int, dev: Path) -> tuple[Path, Path, list[int], float]:
    """Catalog + 3 signed releases of ``size`` runbooks; (catalog, releases, revs, seconds)."""
    catalog = work / f"n{size}" / "runbooks"
    releases = work / f"n{size}" / "releases"
    revs = [1] * size
    rng = random.Random(size)
    write_catalog(catalog, revs)
    target = SigningTarget(instance="dev", dev_state=dev)
    start = time.perf_counter()
    for n, version in enumerate(VERSIONS):
        if n:
            change(revs, size // 10, rng, catalog)
        make_release(load_catalog(catalog), version, releases, target)
    return catalog, releases, revs, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,2000", help="comma-separated catalog sizes")
    parser.add_argument("--skip-stock", action="store_true", help="skip the stock baselines")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temp dir)")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    largest = sizes[-1]
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    if args.keep:
        os.environ["SEALBOOK_CACHE_DIR"] = str(args.keep.absolute() / "verdicts")
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep.absolute()
        return bench(work, sizes, largest, args.skip_stock)
    with tempfile.TemporaryDirectory(prefix="build-scale-") as tmp:
        # The signature verdict cache starts empty and stays in the work folder.
        os.environ["SEALBOOK_CACHE_DIR"] = str(Path(tmp) / "verdicts")
        return bench(Path(tmp), sizes, largest, args.skip_stock)


def bench(work: Path, sizes: list[int], largest: int, skip_stock: bool) -> int:
    dev = work / "dev"
    policy = dev / "sealbook.dev.toml"
    results: list[SizeResult] = []
    rebuild = None
    proof = None
    floors: dict[str, Run] = {}
    for size in sizes:
        catalog, releases, revs, signed = make_size(work, size, dev)
        print(
            f"[{size}] signed {len(VERSIONS)} releases of {size} runbooks in {signed:.1f} s",
            flush=True,
        )
        out = work / f"n{size}" / "site"
        run = sealbook_build(releases, out, policy)
        full_pages, html = site_counts(out)
        result = SizeResult(size, signed, run, full_pages, html, dir_mb(out.resolve()))
        results.append(result)
        print(
            f"[{size}] sealbook build: {run.seconds:.1f} s (cpu {run.cpu:.1f} s, load {run.load:.1f}), "
            f"{run.max_rss_mb:.0f} MB peak, {full_pages} full pages, {html} HTML files, "
            f"{result.site_mb:.0f} MB",
            flush=True,
        )
        if size == largest:
            # The proof of the site just built (3 releases), before the rebuild replaces it.
            proof = verify_site(out, policy)
            print(
                f"[{size}] sealbook-verify site: {proof.seconds:.1f} s (cpu {proof.cpu:.1f} s, "
                f"load {proof.load:.1f}), {proof.max_rss_mb:.0f} MB peak; "
                f"{verified_files(proof.output)}",
                flush=True,
            )
            rng = random.Random(size + 1)
            change(revs, REBUILD_CHANGES, rng, catalog)
            target = SigningTarget(instance="dev", dev_state=dev)
            make_release(load_catalog(catalog), REBUILD_VERSION, releases, target)
            rebuild = sealbook_build(releases, out, policy)
            print(
                f"[{size}] rebuild after {REBUILD_VERSION} ({REBUILD_CHANGES} changed): "
                f"{rebuild.seconds:.1f} s (cpu {rebuild.cpu:.1f} s, load {rebuild.load:.1f}); "
                f"rendered/reused {rendered_reused(rebuild.output)}",
                flush=True,
            )
            floors = rebuild_floor(out, releases / REBUILD_VERSION, policy, work)
            head_sources = releases / VERSIONS[-1] / "runbooks"
        else:
            shutil.rmtree(work / f"n{size}")

    stock: dict[str, tuple[Run, int, float]] = {}
    if not skip_stock:
        for name, prune in (("default", False), ("navigation.prune", True)):
            print(f"[{largest}] stock material ({name}) ...", flush=True)
            stock[name] = stock_build(head_sources, work, prune)
            srun, pages, mb = stock[name]
            print(
                f"[{largest}] stock material ({name}): {srun.seconds:.1f} s (cpu {srun.cpu:.1f} s, "
                f"load {srun.load:.1f}), {srun.max_rss_mb:.0f} MB peak, {pages} pages, {mb:.0f} MB",
                flush=True,
            )

    report(results, rebuild, floors, stock, largest, proof)
    return 0


def report(
    results: list[SizeResult],
    rebuild: Run | None,
    floors: dict[str, Run],
    stock: dict[str, tuple[Run, int, float]],
    largest: int,
    proof: Run | None = None,
) -> None:
    print()
    print(f"sealbook build, {len(VERSIONS)} releases (each later one changes 10% of runbooks):")
    head = (
        f"{'runbooks':>8} {'full pages':>10} {'all HTML':>8} {'wall s':>7} {'cpu s':>7} "
        f"{'load':>5} {'peak MB':>7} {'site MB':>7} {'pages/s':>7} {'ms/page':>7} {'ms/HTML':>7}"
    )
    print(head)
    for r in results:
        print(
            f"{r.size:>8} {r.full_pages:>10} {r.html:>8} {r.run.seconds:>7.1f} {r.run.cpu:>7.1f} "
            f"{r.run.load:>5.1f} {r.run.max_rss_mb:>7.0f} {r.site_mb:>7.0f} "
            f"{r.full_pages / r.run.seconds:>7.1f} {r.ms_per_page:>7.2f} {r.ms_per_html:>7.2f}"
        )
    for name, (srun, pages, mb) in stock.items():
        print(
            f"stock material, {name} ({pages} pages): {srun.seconds:.1f} s (cpu {srun.cpu:.1f} s, "
            f"load {srun.load:.1f}), {srun.max_rss_mb:.0f} MB peak, {mb:.0f} MB site, {pages / srun.seconds:.1f} pages/s, "
            f"{srun.seconds * 1000 / pages:.2f} ms/page"
        )
    big = next(r for r in results if r.size == largest)
    verdicts: list[tuple[str, bool]] = []
    print()
    print("goals:")
    if "default" in stock:
        ratio = big.run.seconds / stock["default"][0].seconds
        cpu_ratio = big.run.cpu / stock["default"][0].cpu
        ok = ratio <= 0.5
        verdicts.append(("time vs stock default", ok))
        print(
            f"  {largest}x{len(VERSIONS)} build / stock default {largest}-page build: "
            f"{ratio:.3f}x (goal <= 0.5x)  {'PASS' if ok else 'FAIL'}  [cpu: {cpu_ratio:.3f}x]"
        )
    if "navigation.prune" in stock:
        srun, pages, _ = stock["navigation.prune"]
        tuned = srun.seconds * 1000 / pages
        cpu_ratio = (big.run.cpu / big.full_pages) / (srun.cpu / pages)
        ok = big.ms_per_page <= tuned
        verdicts.append(("ms/page vs tuned stock", ok))
        print(
            f"  ms per full page {big.ms_per_page:.2f} vs tuned stock {tuned:.2f}: "
            f"{big.ms_per_page / tuned:.3f}x (goal <= 1x)  {'PASS' if ok else 'FAIL'}"
            f"  [cpu: {cpu_ratio:.3f}x; per HTML file: {big.ms_per_html:.2f} ms]"
        )
    if len(results) >= 2:
        per_page = ", ".join(f"{r.size}: {r.ms_per_page:.2f}" for r in results)
        print(f"  ms per full page by size: {per_page}")
        pairs = list(itertools.pairwise(results))
        marginal = [
            (b.run.seconds - a.run.seconds) * 1000 / (b.full_pages - a.full_pages) for a, b in pairs
        ]
        spans = ", ".join(
            f"{a.size}->{b.size}: {m:.2f}" for (a, b), m in zip(pairs, marginal, strict=True)
        )
        cpu_marginal = [
            (b.run.cpu - a.run.cpu) * 1000 / (b.full_pages - a.full_pages) for a, b in pairs
        ]
        cpu_spans = ", ".join(
            f"{a.size}->{b.size}: {m:.2f}" for (a, b), m in zip(pairs, cpu_marginal, strict=True)
        )
        # A linear build with a fixed start-up cost has a constant marginal cost per page.
        growth = marginal[-1] / marginal[0]
        cpu_growth = cpu_marginal[-1] / cpu_marginal[0]
        ok = growth <= 1.25
        verdicts.append(("linear", ok))
        print(f"  marginal ms per added full page: {spans}  [cpu: {cpu_spans}]")
        print(
            f"  linear: marginal cost, largest span / smallest span = {growth:.2f}x "
            f"(goal <= 1.25x)  {'PASS' if ok else 'FAIL'}  [cpu: {cpu_growth:.2f}x]"
        )
    if rebuild is not None:
        ratio = rebuild.seconds / big.run.seconds
        ok = ratio <= 0.10
        verdicts.append(("rebuild", ok))
        print(
            f"  rebuild ({REBUILD_CHANGES} of {largest} changed) {rebuild.seconds:.1f} s / full "
            f"{big.run.seconds:.1f} s = {ratio:.3f} (goal <= 0.10)  {'PASS' if ok else 'FAIL'}"
            f"  [cpu: {rebuild.cpu / big.run.cpu:.3f}]"
        )
        budget = 0.10 * big.run.seconds
        parts = ", ".join(
            f"{name} {run.seconds:.2f} s wall, {run.cpu:.2f} s cpu" for name, run in floors.items()
        )
        floor_cpu = sum(run.cpu for run in floors.values())
        print(
            f"  rebuild floor (work a fresh-folder build cannot skip): {parts}; "
            f"{floor_cpu:.2f} s cpu of the {budget:.2f} s budget "
            f"({2 * budget:.2f} s cpu on 2 cores), before any page is rendered"
        )
    if proof is not None:
        ratio = proof.seconds / big.run.seconds
        ok = ratio <= 1.0
        verdicts.append(("proof vs build", ok))
        print(
            f"  proof: verify site {proof.seconds:.1f} s / full build {big.run.seconds:.1f} s "
            f"({largest}x{len(VERSIONS)}, {big.html} HTML files) = {ratio:.3f} "
            f"(goal: proof costs no more than the full build, ratio <= 1.0)  "
            f"{'PASS' if ok else 'FAIL'}  [cpu: {proof.cpu:.1f} s / {big.run.cpu:.1f} s = "
            f"{proof.cpu / big.run.cpu:.3f}; peak {proof.max_rss_mb:.0f} MB vs "
            f"{big.run.max_rss_mb:.0f} MB]"
        )
    failed = [name for name, ok in verdicts if not ok]
    print(
        f"summary: {len(verdicts) - len(failed)}/{len(verdicts)} goals met"
        + (f"; missed: {', '.join(failed)}" if failed else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
