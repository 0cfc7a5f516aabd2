"""The explorer page in a real browser: Debian's headless Chromium through Playwright.

Starts ``python -m sim.explorer`` on a free localhost port, checks the page, moves a
lever, steps the model, enters a value the config rejects, and stops the server
whatever happens. Screenshots go to ``$SIM_TEST_ARTIFACTS`` (default
``results/test-artifacts``). Needs the ``chromium`` package (``.ci/run`` installs it;
there ``SIM_BROWSER_TEST=required`` turns a missing browser into a failure).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SIM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SIM_TEST_ARTIFACTS", REPO / "results" / "test-artifacts"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000

if not Path(CHROMIUM).exists():
    if os.environ.get("SIM_BROWSER_TEST") == "required":
        raise RuntimeError(f"SIM_BROWSER_TEST=required but no browser at {CHROMIUM}")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"explorer server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        time.sleep(0.3)
    raise TimeoutError(f"explorer server did not answer at {url} in {timeout_s} s")


@pytest.fixture
def server():
    """The explorer server on a free port; stopped (process group) at the end."""
    port = _free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.explorer", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}/", proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.seek(0)
        text = log.read().decode(errors="replace")
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "explorer-server.log").write_text(text)
    assert proc.poll() is not None


def _number(page, key: str) -> float:
    text = page.inner_text(f"#h-{key}").strip().replace(",", "").replace("$", "")
    if text.endswith("m"):
        return float(text[:-1]) * 1e6
    return float(text.rstrip("%"))


def _step(page, weeks: int) -> None:
    start = int(_number(page, "week"))
    for i in range(weeks):
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(
            "w => document.querySelector('#h-week')?.textContent.trim() === String(w)",
            arg=start + i + 1,
            timeout=TIMEOUT_MS,
        )


def _set_text(page, label: str, value: str) -> None:
    box = page.get_by_label(label)
    box.fill(value)
    box.press("Enter")
    box.blur()


def _reset(page, expect_config: str | None = None, expect_error: str | None = None) -> None:
    page.get_by_role("button", name="Reset", exact=True).click()
    if expect_config:
        page.locator(".explorer-config", has_text=expect_config).wait_for(timeout=TIMEOUT_MS)
    if expect_error:
        page.locator(".explorer-error", has_text=expect_error).wait_for(timeout=TIMEOUT_MS)


_IMAGE_DIGEST = """async (sel) => {
    const img = document.querySelector(sel);
    if (!img || !img.src) return "";
    const buf = await (await fetch(img.src)).arrayBuffer();
    const head = Array.from(new Uint8Array(buf.slice(1, 4))).map(c => String.fromCharCode(c));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
    return head.join("") + ":" + Array.from(digest).map(b => b.toString(16)).join("");
}"""


def _plots(page) -> dict[str, str]:
    """SHA-256 of each plot's PNG as the browser shows it ('PNG:<hex>')."""
    return {
        name: page.evaluate(_IMAGE_DIGEST, f".explorer-{name} img")
        for name in ("shares", "flows", "grey")
    }


def _captions(page) -> list[str]:
    return [page.inner_text(f".explorer-{n}-caption") for n in ("shares", "flows", "grey")]


def test_explorer_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    url, proc = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(url)
            page.wait_for_selector("#h-week")
            assert _number(page, "week") == 0
            first_plots = _plots(page)
            assert all(digest.startswith("PNG:") for digest in first_plots.values()), first_plots

            # default policy: the crackdown starts in April 2021, so 3 weeks bring no penalty
            _step(page, 3)
            assert page.inner_text("#h-date").strip() == "2020-01-20"
            assert _number(page, "stores_suspended") == 0
            assert _captions(page) == [f"{n}: 3 weeks shown" for n in ("shares", "flows", "grey")]
            default_plots = _plots(page)
            assert all(default_plots[k] != first_plots[k] for k in default_plots)

            # move a lever: the crackdown starts in the first week, audits twice as frequent
            _set_text(page, "Amazon crackdown start (YYYY-MM-DD)", "2020-01-06")
            _reset(page, expect_config="start_date=2020-01-06")
            assert _number(page, "week") == 0
            _step(page, 8)
            assert _number(page, "stores_suspended") > 0
            assert _number(page, "frozen_funds_usd_real") > 0
            assert _number(page, "stores_banned") >= 0
            assert _captions(page)[0] == "shares: 8 weeks shown"
            moved_plots = _plots(page)
            assert all(moved_plots[k] != default_plots[k] for k in moved_plots)
            page.screenshot(path=str(ARTIFACTS / "explorer-after-steps.png"), full_page=True)

            # a value the config rejects: its message on the page, the model untouched
            suspended = _number(page, "stores_suspended")
            _set_text(page, "Seed", "not-a-seed")
            _reset(page, expect_error="seed: 'not-a-seed' is not a valid integer")
            assert _number(page, "week") == 8
            assert _number(page, "stores_suspended") == suspended
            assert "start_date=2020-01-06" in page.inner_text(".explorer-config")
            _step(page, 1)  # and it keeps running
            assert _number(page, "stores_suspended") >= suspended
            page.screenshot(path=str(ARTIFACTS / "explorer-bad-input.png"), full_page=True)
            assert proc.poll() is None, "the server must survive bad input"
            assert re.search(r"\d{4}-\d{2}-\d{2}", page.inner_text("#h-date"))
        except Exception:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "explorer-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
