"""``python -m sim.explorer [--host 127.0.0.1] [--port 8765]``: serve the explorer page."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def command(host: str, port: int) -> list[str]:
    """The ``solara run`` command line that serves the page (production mode, no reloader)."""
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
        "--log-level",
        "warning",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default: localhost)")
    ap.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    ns = ap.parse_args(argv)
    print(f"explorer: http://{ns.host}:{ns.port} (Ctrl-C to stop)", flush=True)
    # no version check or usage telemetry: the page talks to nobody but the browser
    env = {**os.environ, "MPLBACKEND": "Agg", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    try:
        return subprocess.run(command(ns.host, ns.port), env=env).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
