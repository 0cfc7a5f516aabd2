"""The explorer's server: no outside calls, a warning for non-local hosts, stops on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sim.explorer import __main__ as explorer_main

REPO = explorer_main.APP.parents[2]


def test_command_line_turns_off_solaras_version_check():
    cmd = explorer_main.command("127.0.0.1", 8765)
    assert "--no-check-version" in cmd  # solara otherwise asks the package index
    assert "--production" in cmd and "--no-open" in cmd
    env = explorer_main.environment()
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"


def test_solara_knows_the_flag_it_is_given():
    """The flag exists in the installed solara (an unknown flag would stop the server)."""
    from solara.__main__ import run

    flags = {o for p in run.params for o in (*p.opts, *p.secondary_opts)}
    assert "--no-check-version" in flags


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_non_local_host_warns_and_the_server_is_execed(monkeypatch, capsys, host, warned):
    calls = []
    monkeypatch.setattr(explorer_main.os, "execve", lambda *a: calls.append(a))
    explorer_main.main(["--host", host, "--port", "8765"])
    err = capsys.readouterr().err
    assert ("warning: --host" in err) is warned
    ((path, argv, _env),) = calls  # replaced by solara: signals reach the server itself
    assert path == sys.executable and "--no-check-version" in argv
    assert argv[argv.index("--host") + 1] == host


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    return False


@pytest.mark.slow
def test_sigterm_stops_the_server():
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.explorer", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        end = time.monotonic() + 120
        while not _answers(url):
            assert proc.poll() is None and time.monotonic() < end, "server did not start"
            time.sleep(0.3)
        os.kill(proc.pid, signal.SIGTERM)  # what a service manager or `kill` sends
        proc.wait(timeout=30)
        end = time.monotonic() + 10
        while _answers(url) and time.monotonic() < end:
            time.sleep(0.3)
        assert not _answers(url), "a server still answers after SIGTERM"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
