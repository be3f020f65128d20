"""The HTML audit report, opened in a real headless Chromium.

Chromium must be installed (Debian package ``chromium``; .ci/run installs it):
without it this test fails rather than skips, so a CI image that lost it is
noticed.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.inventory.scenario import EXPECTED_STATUS, Project
from tests.support.servers import REPO_ROOT, run_cli

ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is needed to check the HTML report: install the `chromium` "
        "package (apt-get install -y chromium)",
        pytrace=False,
    )


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


class _Dom(HTMLParser):
    """Collects table rows and, per SVG chart, the classes of the elements inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.charts: list[list[tuple[str, dict[str, str]]]] = []
        self.scripts = 0
        self.external: list[str] = []
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if attributes.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attributes[key])
        if tag == "tr" and "model" in attributes.get("class", "").split():
            self.rows.append(attributes)
        if tag == "svg":
            self._svg_depth += 1
            if "loss-chart" in attributes.get("class", "").split():
                self.charts.append([])
        elif self._svg_depth and self.charts:
            self.charts[-1].append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg_depth -= 1


@pytest.mark.browser
def test_report_renders_in_chromium(project: Project, tmp_path: Path) -> None:
    binary = _chromium()
    result = run_cli(*project.cli_args("inventory", "--format", "html"))
    assert result.returncode == 0, result.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / "inventory-report.html"
    report.write_text(result.stdout, encoding="utf-8")

    dumped = _run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)

    assert "<h1>Tuned model inventory</h1>" in dumped.stdout
    assert {r["data-name"]: r["data-status"] for r in dom.rows} == EXPECTED_STATUS
    assert dom.scripts == 0 and dom.external == []  # self-contained: nothing to fetch

    # Every model with snapshots has a chart (the missing one has none; the
    # in-flight one has its first steps), and every chart has axes and a line.
    assert len(dom.charts) == 5
    for elements in dom.charts:
        classes = [attrs.get("class", "") for _, attrs in elements]
        assert "axis x-axis" in classes and "axis y-axis" in classes
        lines = [attrs for tag, attrs in elements if tag == "polyline"]
        assert len(lines) == 1 and lines[0]["class"] == "loss-line"
        assert len(lines[0]["points"].split()) >= 1

    screenshot = ARTIFACTS / "inventory-report.png"
    screenshot.unlink(missing_ok=True)
    shot = _run_chromium(
        binary,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        report.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
