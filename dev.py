#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+ and pip.

    python3 dev.py run [overrides...]   # make .venv, install pinned deps, run the default scenario
    python3 dev.py test [pytest args]   # make .venv, install, lint (ruff), run the test suite
    python3 dev.py setup                # only create/refresh .venv

Options before the command: ``--venv DIR`` (default .venv) and ``--python EXE``
(the interpreter that creates the venv; default: the one running this script).
The venv is reinstalled only when pyproject.toml or constraints.txt change.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _stamp() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _bin(venv: Path, name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return venv / sub / name


def setup(venv: Path, python: str) -> Path:
    """Create ``venv`` and install the project with pinned versions (if not current)."""
    py = _bin(venv, "python")
    stamp_file = venv / ".installed-stamp"
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == _stamp():
        return py
    if not py.exists():
        print(f"creating virtual environment {venv} ...", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    print("installing pinned dependencies (constraints.txt) ...", flush=True)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[test]"], check=True)
    stamp_file.write_text(_stamp())
    return py


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--venv", default=str(ROOT / ".venv"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("command", choices=("setup", "run", "test", "lint"))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    py = setup(Path(ns.venv), ns.python)
    if ns.command == "setup":
        return 0
    if ns.command == "run":
        return subprocess.run([str(py), "-m", "sim", *ns.args], cwd=ROOT).returncode
    lint = [
        [str(py), "-m", "ruff", "check", "."],
        [str(py), "-m", "ruff", "format", "--check", "."],
    ]
    for cmd in lint:
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc:
            return rc
    if ns.command == "lint":
        return 0
    return subprocess.run([str(py), "-m", "pytest", *ns.args], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
