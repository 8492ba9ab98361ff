"""The HTML report in a real browser: headless Chromium (Debian's
``chromium``, installed by ``make setup`` through ``make chromium``) opens
report.html, built from a synthetic run (no chain), and every chart must
load. The report itself has no script: a probe page beside it loads it in
an iframe and writes each <img>'s natural width into its own DOM, which
``--dump-dom`` prints."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from devkit.demo.report import HTML_NAME, write_report

CHROMIUM = Path("/usr/bin/chromium")
# Seconds of (virtual) time the page gets to load, and of wall time the
# browser gets before the test gives up on it.
VIRTUAL_TIME_MS = 5_000
TIMEOUT = 90

PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title></head><body>
<pre id="result">pending</pre>
<iframe id="report" src="{report}" style="width:1100px;height:900px"></iframe>
<script>
const frame = document.getElementById("report");
frame.addEventListener("load", () => {{
  const images = Array.from(frame.contentDocument.images);
  const loaded = images.map(img => img.complete ? Promise.resolve()
    : new Promise(done => {{ img.onload = done; img.onerror = done; }}));
  Promise.all(loaded).then(() => {{
    document.getElementById("result").textContent = JSON.stringify(
      images.map(img => ({{src: img.getAttribute("src"), width: img.naturalWidth, height: img.naturalHeight}})));
  }});
}});
</script>
</body></html>
"""


@pytest.fixture(autouse=True)
def _chromium_installed():
    """`make setup` (so `make test` and CI) installs Debian's chromium: its
    absence is a set-up fault to report, not a reason to check nothing."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium with `make chromium`"


def _chromium(tmp_path: Path, *args: str) -> str:
    """Runs headless Chromium with a throwaway profile; returns its stdout."""
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2_000:]
    return done.stdout


def _loaded_images(tmp_path: Path, report: Path) -> list[dict]:
    probe = report.parent / "probe.html"
    probe.write_text(PROBE.format(report=report.name))
    dom = _chromium(
        tmp_path, "--allow-file-access-from-files", f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom",
        probe.as_uri(),
    )
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, dom[-2_000:]
    text = html.unescape(found.group(1))
    assert text != "pending", "the report did not load in the probe's iframe"
    return json.loads(text)


def test_html_report__in_chromium__every_chart_loads(results, tmp_path):
    files = write_report(results, tmp_path / "report")
    images = _loaded_images(tmp_path, files.html)
    assert [image["src"] for image in images] == [chart.name for chart in files.charts]
    assert len(images) == len(files.charts) == 10
    assert all(image["width"] > 0 and image["height"] > 0 for image in images), images


def test_html_report__a_missing_chart__is_caught(results, tmp_path):
    files = write_report(results, tmp_path / "report")
    files.charts[0].unlink()
    widths = {image["src"]: image["width"] for image in _loaded_images(tmp_path, files.html)}
    assert widths[files.charts[0].name] == 0
    assert all(widths[chart.name] > 0 for chart in files.charts[1:])


def test_html_report__screenshot__renders_the_page(results, tmp_path):
    files = write_report(results, tmp_path / "report")
    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--hide-scrollbars", "--window-size=1100,1600", f"--screenshot={shot}", files.html.as_uri())
    assert files.html.name == HTML_NAME
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
