"""`builder.site.prose.render_prose`: one CommonMark parse yields the snippets and the page."""

from __future__ import annotations

import re

from builder.site.prose import Prose, render_prose
from verifier.digests import digest
from verifier.manifest import Runbook, Snippet


def _rb(lines: list[int], slug: str = "ops/restart") -> Runbook:
    """A runbook whose snippets open at the given 1-based file lines."""
    snippets = tuple(
        Snippet(f"s{i}", "bash", True, line, (), digest(b"echo\n"), "echo\n")
        for i, line in enumerate(lines)
    )
    return Runbook(slug, "Restart", {}, f"runbooks/{slug}.md", digest(b"x"), 1, snippets)


def _render(text: str, lines: list[int] | None = None, body_start: int = 0) -> Prose:
    return render_prose(text.encode(), _rb(lines or []), body_start)


def _html(prose: Prose) -> str:
    return "".join(p if isinstance(p, str) else f"[[{p}]]" for p in prose.parts)


FRONT = "---\ntitle: Restart\n---\n"


def test_snippets_in_order_at_their_fences_in_lists_and_admonitions() -> None:
    text = (
        FRONT  # lines 1-3
        + "# Restart\n"  # 4
        + "\n"  # 5
        + "Check it first.\n"  # 6
        + "\n"  # 7
        + "```bash\n"  # 8: snippet 0
        + "systemctl status app\n"
        + "```\n"
        + "\n"
        + "1. Stop it:\n"  # 12
        + "\n"
        + "   ```bash\n"  # 14: snippet 1, in a list item
        + "   systemctl stop app\n"
        + "   ```\n"
        + "\n"
        + '!!! warning "Then"\n'  # 18
        + "    Start it again.\n"
        + "\n"
        + "    ```bash\n"  # 21: snippet 2, in an admonition
        + "    systemctl start app\n"
        + "    ```\n"
        + "\n"
        + "Done.\n"
    )
    prose = _render(text, [8, 14, 21], body_start=3)
    assert [p for p in prose.parts if isinstance(p, int)] == [0, 1, 2]
    html = _html(prose)
    assert "systemctl" not in html  # the page shows the signed text, never the Markdown's
    assert re.search(r"<p>Check it first.</p>\s*\[\[0\]\]\s*<ol>", html)
    assert re.search(r"<li>\s*<p>Stop it:</p>\s*\[\[1\]\]\s*</li>", html)
    assert re.search(
        r'<div class="admonition warning">\s*<p class="admonition-title">Then</p>\s*'
        r"<p>Start it again.</p>\s*\[\[2\]\]\s*</div>",
        html,
    )
    assert html.rstrip().endswith("<p>Done.</p>")


def test_crlf_source_places_snippets_by_file_line() -> None:
    text = (FRONT + "Intro\n\n```bash\necho hi\n```\n\nAfter\n").replace("\n", "\r\n")
    prose = _render(text, [6], body_start=3)
    parts = tuple(p.strip() if isinstance(p, str) else p for p in prose.parts)
    assert parts == ("<p>Intro</p>", 0, "<p>After</p>")


def test_unplaced_snippet_goes_last_and_unsigned_fence_is_not_shown() -> None:
    text = "Intro\n\n```bash\nrm -rf /\n```\n\nAfter\n"
    prose = _render(text, [99])
    assert prose.parts[-1] == 0
    assert "rm -rf" not in _html(prose)
    assert "<p>After</p>" in _html(prose)


def test_a_written_placeholder_is_just_text() -> None:
    forged = "sbsnippet" + "0" * 24 + "n0x"
    text = f"Look: {forged}\n\n```bash\necho\n```\n"
    prose = _render(text, [3])
    assert [p for p in prose.parts if isinstance(p, int)] == [0]
    assert forged in _html(prose)


def test_a_placeholder_never_lands_inside_an_attribute() -> None:
    text = '<div title="\n\n```bash\necho\n```\n\n">x</div>\n'
    prose = _render(text, [3])
    assert prose.parts[-1] == 0
    assert "sbsnippet" not in _html(prose)


def test_indented_code_is_code_not_a_snippet() -> None:
    text = "Para\n\n    <b>indented</b> & code\n"
    prose = _render(text)
    assert all(isinstance(p, str) for p in prose.parts)
    assert "<pre><code>&lt;b&gt;indented&lt;/b&gt; &amp; code\n</code></pre>" in _html(prose)


def test_details_survive_script_inside_does_not() -> None:
    text = (
        "<details><summary>More</summary>\n<script>alert(1)</script>\n<p>Hidden</p>\n</details>\n"
    )
    html = _html(_render(text))
    assert "<details><summary>More</summary>" in html
    assert "<p>Hidden</p>" in html and "</details>" in html
    assert "script" not in html and "alert" not in html


def test_executable_html_is_removed() -> None:
    text = (
        "<script>alert(9)</script>\n"
        "\n"
        '<img src=x onerror=alert(10)> <div onmouseover="alert(11)">raw</div>\n'
        '<a href="javascript:alert(17)">raw link</a> <a href="&#106;avascript:x">e</a>\n'
        '<a href="//evil.example/">proto</a> <span style="color:red">styled</span>\n'
        "<iframe src=https://evil.example></iframe><object data=x></object>\n"
        "<svg><script>alert(1)</script></svg><math><mi>x</mi></math><style>p{}</style>\n"
        "<form action=x><textarea>t</textarea></form><template>tpl</template>\n"
        "\n"
        "[js](javascript:alert(12)) [data](data:image/png;base64,AA) ![img](vbscript:x)\n"
        "\n"
        "<base href=https://evil.example/><meta http-equiv=refresh content=0><link rel=x>\n"
    )
    html = _html(_render(text)).lower()
    for gone in (
        "<script", "<img", "onerror", "onmouseover", "alert(1)", "alert(9)", "//evil",
        "style=", "<iframe", "<object", "<svg", "<math", "<style", "<form", "<textarea",
        "<template", "<base", "<meta", "<link",
    ):  # fmt: skip
        assert gone not in html, gone
    assert not re.search(r"=\"\s*(javascript|vbscript|data):", html)
    assert "raw link" in html and "styled" in html
    assert 'class="sb-link-removed"' in html  # the data: link, kept as text
    assert "[js](javascript:alert(12))" in html  # CommonMark: not a link at all, just text


def test_alert_and_admonition_render_as_material_admonitions() -> None:
    text = (
        '> [!WARNING]\n> Drains traffic.\n\n!!! note\n    Be calm.\n\n??? tip "More"\n    Hidden.\n'
    )
    html = _html(_render(text))
    assert re.search(
        r'<div class="admonition warning">\s*<p class="admonition-title">Warning</p>\s*'
        r"<p>Drains traffic.</p>\s*</div>",
        html,
    )
    assert re.search(
        r'<div class="admonition note">\s*<p class="admonition-title">Note</p>\s*'
        r"<p>Be calm.</p>\s*</div>",
        html,
    )
    assert re.search(r'<details class="tip">\s*<summary>More</summary>\s*<p>Hidden.</p>', html)


def test_task_list_table_and_footnote() -> None:
    text = (
        "- [ ] todo\n- [x] done\n\n"
        "| Step | Time |\n|:-----|-----:|\n| drain | 5m |\n\n"
        "Text with a note[^1] and ~~old~~.\n\n[^1]: The note.\n"
    )
    html = _html(_render(text))
    assert '<ul class="contains-task-list">' in html
    assert re.search(
        r'<input class="task-list-item-checkbox" type="checkbox" disabled=""> todo', html
    )
    assert re.search(r'<input [^>]*checked=""[^>]*> done', html)
    assert '<th align="left">Step</th>' in html and '<td align="right">5m</td>' in html
    assert "<s>old</s>" in html
    assert re.search(r'<sup class="footnote-ref"><a href="#fn1" id="fnref1"', html)
    assert re.search(r'<li id="fn1" class="footnote-item"><p>The note.', html)


def test_md_links_lead_to_latest_pages_with_their_fragment() -> None:
    text = (
        "[same](other.md#sec) [up](../db/failover.md) [plain](other.md) "
        "[ext](https://example.com/x.md) [anchor](#here)\n"
    )
    html = _html(_render(text))
    assert '<a href="../../ops/other/latest.html#sec" rel="noopener noreferrer">same</a>' in html
    assert 'href="../../db/failover/latest.html"' in html
    assert 'href="../../ops/other/latest.html"' in html
    assert 'href="https://example.com/x.md" rel="noopener noreferrer"' in html
    assert 'href="#here"' in html


def test_images_become_links() -> None:
    text = "![the diagram](img/flow.png) ![](https://example.com/a.png) ![x](data:image/png;base64,AA)\n"
    html = _html(_render(text))
    assert '<a href="img/flow.png" rel="noopener noreferrer">[image: the diagram]</a>' in html
    assert '<a href="https://example.com/a.png" rel="noopener noreferrer">' in html
    assert "[image: x]</a>" in html and "data:" not in html
    assert "<img" not in html


def test_two_space_nested_list_is_nested() -> None:
    html = _html(_render("- one\n  - inner\n  - inner two\n- two\n"))
    assert re.search(r"<li>one\s*<ul>\s*<li>inner</li>\s*<li>inner two</li>\s*</ul>\s*</li>", html)


def test_heading_ids_and_toc_levels() -> None:
    text = (
        "# Title\n\n## Before you *start* & check\n\n### `kubectl` access\n\n#### Deep\n\n"
        "##### Too deep\n\n## Before you start & check\n\n## Steps\n"
    )
    prose = _render(text)
    html = _html(prose)
    assert '<h1 id="title">Title</h1>' in html
    assert '<h2 id="before-you-start--check">Before you <em>start</em> &amp; check</h2>' in html
    assert '<h3 id="kubectl-access"><code>kubectl</code> access</h3>' in html
    assert '<h5 id="too-deep">' in html
    assert '<h2 id="before-you-start--check-1">' in html

    def shape(toc: object) -> list[object]:
        assert isinstance(toc, (list, tuple))
        return [(t["level"], t["id"], t["name"], shape(t["children"])) for t in toc]

    assert shape(prose.toc) == [
        (
            2,
            "before-you-start--check",
            "Before you start &amp; check",
            [(3, "kubectl-access", "kubectl access", [(4, "deep", "Deep", [])])],
        ),
        (2, "before-you-start--check-1", "Before you start &amp; check", []),
        (2, "steps", "Steps", []),
    ]


def test_leading_h1_stays_first_part() -> None:
    prose = _render(FRONT + "# Restart the service\n\nBody.\n", body_start=3)
    lead = prose.parts[0]
    assert isinstance(lead, str) and lead.startswith('<h1 id="restart-the-service">')


def test_heading_with_raw_script_shows_no_script_text_in_id_or_toc() -> None:
    prose = _render("## Heading <script>window.__xss=1</script> <em>it</em>\n")
    assert '<h2 id="heading--it">Heading  <em>it</em></h2>' in _html(prose)
    assert [(t["id"], t["name"]) for t in prose.toc] == [("heading--it", "Heading  it")]
