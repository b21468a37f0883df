"""The browser check of the built site (tests/site_check.py) catches what it promises to catch.

The link and anchor logic runs without a browser; the end-to-end test opens two tiny pages in
the system Chromium (skipped where there is none) and expects every planted fault to be reported.
"""

from __future__ import annotations

import shutil

import pytest
import site_check


def write(path, body: str) -> None:
    path.write_text(f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>")


def test_links_report_missing_files_and_anchors_but_not_external_ones(tmp_path):
    write(tmp_path / "a.html", '<h1 id="top">A</h1><a name="old">x</a>')
    page = tmp_path / "b.html"
    links = [
        (tmp_path / "a.html").as_uri() + "#top",
        (tmp_path / "a.html").as_uri() + "#old",
        (tmp_path / "a.html").as_uri() + "#gone",
        (tmp_path / "missing.html").as_uri(),
        "https://example.org/x.html#y",
    ]
    problems = site_check.check_links(page, tmp_path, links)
    assert problems == [
        "missing anchor #gone in a.html",
        f"broken link: {(tmp_path / 'missing.html').as_uri()}",
    ]


def test_a_meta_refresh_stub_is_recognised(tmp_path):
    stub = tmp_path / "index.html"
    stub.write_text('<html><head><meta http-equiv="Refresh" content="0; url=book/index.html" />')
    assert site_check.anchors(stub).refresh == "book/index.html"


def test_without_chromium_the_check_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(site_check, "find_chromium", lambda: None)
    assert site_check.main(["--no-build"]) == 2
    assert "apt-get install chromium" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(site_check.find_chromium() is None, reason="no Chromium on this machine")
def test_every_planted_fault_is_reported_and_a_clean_page_passes(tmp_path, capsys):
    site = tmp_path / "html"
    site.mkdir()
    write(
        site / "index.html",
        '<p>A clean page that links to <a href="bad.html#here">the other</a>.</p>',
    )
    write(
        site / "bad.html",
        '<p id="here">Inline maths left raw: \\(x + y\\).</p>'
        '<img src="missing.png" alt="missing">'
        '<a href="index.html#nowhere">a dead anchor</a>'
        '<div class="cell_output">Traceback (most recent call last): boom</div>'
        '<div class="cell_output">ML-1M: not measured</div>'
        '<div class="cell_output"><p>| model | ndcg@10 | |—|—| | BPR-MF | 0.25 |</p></div>'
        "<script>console.error('planted error'); fetch('http://example.org/data.json')</script>",
    )
    code = site_check.main(["--html", str(site), "--screenshots", str(tmp_path / "shots")])
    out = capsys.readouterr().out
    assert code == 1
    assert "ok   index.html" in out and "FAIL bad.html" in out
    for expected in (
        "raw TeX in the text",
        "image does not load",
        "missing anchor #nowhere in index.html",
        "cell output shows a traceback",
        "cell output shows a placeholder",
        "cell output shows an unrendered Markdown table",
        "console error: planted error",
        "loads from the network: http://example.org/data.json",
    ):
        assert expected in out, expected
    assert (tmp_path / "shots" / "index.png").stat().st_size > 0
    shutil.rmtree(tmp_path / "shots")
