"""``python -m sim.explorer [--host 127.0.0.1] [--port 8765]``: serve the explorer page."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def command(host: str, port: int) -> list[str]:
    """The ``solara run`` command line that serves the page (production mode, no reloader).

    ``--no-check-version``: solara would otherwise ask the package index for
    its newest version; the page calls nothing outside this machine.
    """
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",
        "--log-level",
        "warning",
    ]


def environment() -> dict[str, str]:
    """The server's environment: no telemetry, no display."""
    return {**os.environ, "MPLBACKEND": "Agg", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default: localhost)")
    ap.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    ns = ap.parse_args(argv)
    if ns.host not in LOCAL_HOSTS:
        print(
            f"warning: --host {ns.host} makes the explorer reachable from other machines; "
            "it has no login, and anyone who reaches it can run simulations on this one",
            file=sys.stderr,
            flush=True,
        )
    print(f"explorer: http://{ns.host}:{ns.port} (Ctrl-C to stop)", flush=True)
    # exec, not a child process: SIGTERM/SIGINT reach the server itself, so that
    # stopping `python -m sim.explorer` never leaves a server running behind it
    cmd = command(ns.host, ns.port)
    os.execve(cmd[0], cmd, environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
