"""The explorer page in a real browser: Debian's headless Chromium through Playwright.

Starts ``python -m sim.explorer`` on a free localhost port (once for the module) and
checks, each test in a fresh browser session: the page, a lever, a step and a value
the config rejects; the compare view (what-if minus baseline, exactly zero before a
lever acts) and "Run to date"; the slider values shown and applied; "Copy as command".
The server is stopped whatever happens. Screenshots, the server log and the measured
click-to-redraw step latency go to ``$SIM_TEST_ARTIFACTS`` (default
``results/test-artifacts``). Needs the ``chromium`` package (``.ci/run`` installs it;
there ``SIM_BROWSER_TEST=required`` turns a missing browser into a failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from sim.engine.compose import compose_config
from sim.engine.provenance import config_hash
from sim.explorer.model import parse_command

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


@pytest.fixture(scope="module")
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


@pytest.fixture
def page(server):
    """A fresh browser session on the page (its own pair of models); closed at the end."""
    from playwright.sync_api import sync_playwright

    url, _proc = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        pg = browser.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        try:
            pg.goto(url)
            pg.wait_for_selector("#h-week")
            yield pg
        except Exception:
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(ARTIFACTS / "explorer-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _number(page, key: str, column: str = "h") -> float:
    """A headline number; ``column``: ``h`` what-if, ``b`` baseline, ``d`` difference."""
    text = page.inner_text(f"#{column}-{key}").strip().replace(",", "").replace("$", "")
    text = text.removesuffix(" pp").rstrip("%")
    if text.endswith("m"):
        return float(text[:-1]) * 1e6
    return float(text)


_WEEK = """() => {
    // the week every view on the open tab shows (the least of them): the headline
    // table's on the compare tab, and each plot's caption ('shares: 3 weeks shown')
    const weeks = [];
    const h = document.querySelector('#h-week');
    if (h) weeks.push(Number(h.textContent.trim()));
    for (const c of document.querySelectorAll('[class*="-caption"]')) {
        const m = c.textContent.match(/: (\\d+) weeks shown/);
        if (m) weeks.push(Number(m[1]));
    }
    return weeks.length ? Math.min(...weeks) : -1;
}"""


def _step(page, weeks: int) -> list[float]:
    """Click Step ``weeks`` times; seconds from each click to the redrawn week number."""
    start = page.evaluate(_WEEK)
    times = []
    for i in range(weeks):
        t0 = time.perf_counter()
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"w => ({_WEEK})() === w", arg=start + i + 1, timeout=TIMEOUT_MS)
        times.append(time.perf_counter() - t0)
    return times


def _set_text(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    box.blur()


def _select(page, lever: str, option: str) -> None:
    page.locator(f".lever-{lever} .v-select__slot").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.locator(f".lever-{lever} .v-select__selection", has_text=option).wait_for()


def _reset(page, expect_config: str | None = None, expect_error: str | None = None) -> None:
    page.get_by_role("button", name="Reset", exact=True).click()
    if expect_config:
        page.locator(".explorer-config", has_text=expect_config).wait_for(timeout=TIMEOUT_MS)
    if expect_error:
        page.locator(".explorer-error", has_text=expect_error).wait_for(timeout=TIMEOUT_MS)


def _tab(page, n: int) -> None:
    """Open SolaraViz's tab 'Page n' (0: the comparison, 1: the what-if's own curves)."""
    page.get_by_role("tab", name=f"Page {n}").click()
    first = {0: "#h-week", 1: ".explorer-shares img"}[n]
    page.locator(first).first.wait_for(timeout=TIMEOUT_MS)


def _run_to(page, date: str, expect: str) -> str:
    """Run to ``date``; ``expect``: ``done`` or ``error``; returns the message shown."""
    _set_text(page, "Run both to the week of (YYYY-MM-DD)", date)
    page.get_by_role("button", name="Run to date", exact=True).click()
    sel = f".explorer-runto-{expect}"
    page.locator(sel, has_text=date).wait_for(timeout=TIMEOUT_MS)
    text = page.inner_text(sel)
    if expect == "done":  # and every view shows that week
        week = int(re.search(r"now at week (\d+)", text)[1])
        page.wait_for_function(f"w => ({_WEEK})() === w", arg=week, timeout=TIMEOUT_MS)
    return text


_IMAGE_DIGEST = """async (sel) => {
    const img = document.querySelector(sel);
    if (!img || !img.src) return "";
    const buf = await (await fetch(img.src)).arrayBuffer();
    const head = Array.from(new Uint8Array(buf.slice(1, 4))).map(c => String.fromCharCode(c));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
    return head.join("") + ":" + Array.from(digest).map(b => b.toString(16)).join("");
}"""
WHATIF_PLOTS = ("shares", "flows", "grey")
EFFECT_PLOTS = ("effect", "effect-grey")


def _plots(page, names=WHATIF_PLOTS) -> dict[str, str]:
    """SHA-256 of each plot's PNG as the browser shows it ('PNG:<hex>')."""
    return {name: page.evaluate(_IMAGE_DIGEST, f".explorer-{name} img") for name in names}


def _captions(page, names=WHATIF_PLOTS) -> list[str]:
    return [page.inner_text(f".explorer-{n}-caption") for n in names]


def _differences(page) -> dict[str, str]:
    keys = ("stores_suspended", "stores_banned", "honest_stores_penalised")
    keys += ("frozen_funds_usd_real", "own_web_stores", "cn_share_of_amazon_sellers")
    return {k: page.inner_text(f"#d-{k}").strip() for k in keys}


def _cards_fit(page) -> None:
    """No card of the grid spills over the next one (SolaraViz's grid cells are fixed)."""
    sizes = page.evaluate(
        "() => Array.from(document.querySelectorAll('.vue-grid-item'))"
        ".filter(e => e.offsetHeight > 0).map(e => [e.offsetHeight, e.scrollHeight])"
    )
    assert sizes and all(scroll <= height + 12 for height, scroll in sizes), sizes


def test_explorer_page_in_chromium(server, page):
    _url, proc = server
    assert _number(page, "week") == 0
    # nothing moved yet: the what-if is its own baseline, and the page says so
    page.locator(".explorer-same-config").wait_for()
    assert set(_differences(page).values()) <= {"0", "0 pp", "-"}
    _cards_fit(page)
    _tab(page, 1)
    first_plots = _plots(page)
    assert all(digest.startswith("PNG:") for digest in first_plots.values()), first_plots

    # default policy: the crackdown starts in April 2021, so 3 weeks bring no penalty
    _step(page, 3)
    assert _captions(page) == [f"{n}: 3 weeks shown" for n in WHATIF_PLOTS]
    default_plots = _plots(page)
    assert all(default_plots[k] != first_plots[k] for k in default_plots)
    _tab(page, 0)
    assert page.inner_text("#h-date").strip() == "2020-01-20"
    assert _number(page, "stores_suspended") == 0

    # move a lever: the crackdown starts in the first week
    _set_text(page, "Amazon crackdown start (YYYY-MM-DD)", "2020-01-06")
    _reset(page, expect_config="start_date=2020-01-06")
    # no other lever crept in (a slider rounding its preset value to its step is no move)
    assert "audit_probability" not in page.inner_text("#cmd-whatif-cli")
    assert _number(page, "week") == 0
    _step(page, 8)
    assert _number(page, "stores_suspended") > 0
    assert _number(page, "frozen_funds_usd_real") > 0
    assert _number(page, "stores_banned") >= 0
    assert _number(page, "stores_suspended", "b") == 0  # the baseline starts in 2021
    _tab(page, 1)
    assert _captions(page)[0] == "shares: 8 weeks shown"
    moved_plots = _plots(page)
    assert all(moved_plots[k] != default_plots[k] for k in moved_plots)
    page.screenshot(path=str(ARTIFACTS / "explorer-after-steps.png"), full_page=True)

    # a value the config rejects: its message on the page, the model untouched
    _tab(page, 0)
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


def test_compare_view_and_run_to_date(page):
    # the what-if's crackdown starts 2020-03-02, the baseline's (the preset) in April 2021
    _set_text(page, "Amazon crackdown start (YYYY-MM-DD)", "2020-03-02")
    _reset(page, expect_config="start_date=2020-03-02")
    assert "start_date" not in page.inner_text(".explorer-baseline-config")
    assert page.locator(".explorer-same-config").count() == 0
    times = _step(page, 5)
    # same seed and replicate: before the lever acts, the difference is exactly zero
    assert set(_differences(page).values()) <= {"0", "0 pp"}, _differences(page)
    zero_plots = _plots(page, EFFECT_PLOTS)
    msg = _run_to(page, "2020-02-26", "done")
    assert msg == "Ran 3 weeks to 2020-02-26: now at week 8 (2020-02-24).", msg
    assert set(_differences(page).values()) <= {"0", "0 pp"}, _differences(page)
    assert _number(page, "week", "b") == 8

    msg = _run_to(page, "2021-12-27", "done")
    assert msg == "Ran 96 weeks to 2021-12-27: now at week 104 (2021-12-27).", msg
    assert page.inner_text("#b-date").strip() == "2021-12-27"
    assert _number(page, "stores_suspended", "d") > 0
    suspended = [_number(page, "stores_suspended", c) for c in "hbd"]
    assert abs(suspended[2] - (suspended[0] - suspended[1])) <= 1  # each rounded
    assert page.inner_text("#d-cn_share_of_amazon_sellers").endswith(" pp")
    assert _captions(page, EFFECT_PLOTS) == [f"{n}: 104 weeks shown" for n in EFFECT_PLOTS]
    effect_plots = _plots(page, EFFECT_PLOTS)
    assert all(effect_plots[k] != zero_plots[k] for k in EFFECT_PLOTS)
    _cards_fit(page)
    page.screenshot(path=str(ARTIFACTS / "explorer-compare.png"), full_page=True)

    # step latency, click to redrawn compare tab, with both models stepping
    times += _step(page, 5)
    record = {
        "what": "seconds from a click on Step to the redrawn week number, compare tab, "
        "5,000 firms, headless Chromium on the test machine",
        "weeks": "1-5 and 105-109",
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "clicks_s": [round(t, 3) for t in times],
    }
    (ARTIFACTS / "explorer-step-latency.json").write_text(json.dumps(record, indent=1))
    print("\nstep latency (click to redraw):", record["median_s"], "s median")

    # a bad date: a message with the allowed range, the run untouched
    assert "is not a date" in _run_to(page, "2021-02-30", "error")
    assert "outside the run" in _run_to(page, "2026-03-02", "error")
    assert "2020-01-06 to 2025-12-29" in page.inner_text(".explorer-runto-error")
    assert _number(page, "week") == 109
    # an earlier date starts both again and runs them there
    msg = _run_to(page, "2020-02-24", "done")
    assert msg == "Ran 8 weeks to 2020-02-24: now at week 8 (2020-02-24).", msg
    assert set(_differences(page).values()) <= {"0", "0 pp"}
    assert _number(page, "week", "b") == 8


_SLIDER_LABEL = re.compile(r"^(?P<name>.+): (?P<value>[\d,.]+)(?: \((?P<how>.+)\))?$")


def _slider(page, lever: str) -> tuple[str, str]:
    """(value shown in the label, how: 'preset' / 'moved' / ...) of a slider lever."""
    m = _SLIDER_LABEL.match(page.inner_text(f".lever-{lever} .lever-label").strip())
    assert m, page.inner_text(f".lever-{lever} .lever-label")
    return m["value"], m["how"] or ""


def test_slider_values_are_visible_and_applied(page):
    sliders = (
        "escalation_per_year",
        "audit_probability",
        "suspension_weeks",
        "false_positive_rate",
        "rival_fee",
        "rival_subsidy",
        "own_store_subsidy",
        "merchants",
    )
    shown = {lever: _slider(page, lever) for lever in sliders}
    assert shown["audit_probability"] == ("0.006056", "preset")  # the calibrated value
    assert shown["own_store_subsidy"] == ("310,000", "preset")
    assert shown["merchants"] == ("5,000", "")
    # move the audit probability one step: the label follows the slider
    slider = page.locator(".lever-audit_probability [role=slider]")
    slider.focus()
    slider.press("ArrowRight")
    page.locator(".lever-audit_probability .lever-label", has_text="(moved)").wait_for()
    page.wait_for_timeout(500)  # let the slider settle
    value, how = _slider(page, "audit_probability")
    assert how == "moved" and float(value) > 0.006056
    assert float(slider.get_attribute("aria-valuenow")) == float(value)
    # compare against policy=none
    _select(page, "compare_against", "no enforcement (policy=none)")
    _reset(page, expect_config=f"audit_probability_per_week={value}")
    assert page.inner_text("#cmd-whatif-cli").count(f"audit_probability_per_week={value}") == 1
    assert page.inner_text("#cmd-baseline-cli").startswith("python -m sim policy=none ")
    assert "audit_probability" not in page.inner_text("#cmd-baseline-cli")
    assert "policy=none" in page.inner_text(".explorer-baseline-note")
    # a Select and a text box show their values themselves
    _select(page, "policy", "escalating")
    page.locator(".lever-escalation_per_year .lever-label", has_text="escalating").wait_for()
    assert _slider(page, "escalation_per_year") == ("0.5", "escalating preset; control not moved")
    page.locator(".lever-false_positive_rate").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explorer-levers.png"), full_page=True)


def test_copy_as_command(page):
    _set_text(page, "Amazon crackdown start (YYYY-MM-DD)", "2020-06-01")
    _select(page, "penalty_ladder", "warning, ban")
    _set_text(page, "Replicate (seed stream)", "3")
    _reset(page, expect_config="replicate=3")
    cli = page.inner_text("#cmd-whatif-cli").strip()
    base_cli = page.inner_text("#cmd-baseline-cli").strip()
    assert "'policy.enforcement.amazon.penalty_ladder=[warning,ban]'" in cli  # quoted for sh
    assert "replicate=3" in base_cli and "seed=20210425" in base_cli
    # the command's overrides compose to the very configs the page runs
    page_hashes = (page.inner_text("#hash-whatif"), page.inner_text("#hash-baseline"))
    assert config_hash(compose_config(parse_command(cli))) == page_hashes[0]
    assert config_hash(compose_config(parse_command(base_cli))) == page_hashes[1]
    ns: dict = {}
    exec(page.inner_text("#cmd-python"), ns)  # the Python lines as shown
    assert (config_hash(ns["whatif"]), config_hash(ns["baseline"])) == page_hashes
    # the Copy button puts the command on the clipboard
    page.locator("button.explorer-copy[data-for=cmd-whatif-cli]").click()
    page.locator("button.explorer-copy[data-for=cmd-whatif-cli]", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()").strip() == cli
