#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+ and pip.

    python3 dev.py run [overrides...]   # make .venv, install pinned deps, run the default scenario
    python3 dev.py test [pytest args]   # make .venv, install, lint (ruff), run the test suite
    python3 dev.py test -m "not slow"   # the same without the slow behavioural tests
    python3 dev.py lint                 # ruff check + format check only
    python3 dev.py setup                # only create/refresh .venv

Options before the command: ``--venv DIR`` (default .venv) and ``--python EXE``
(the interpreter that creates the venv; default: the one running this script).
The venv is reinstalled only when pyproject.toml or constraints.txt change.
A venv belongs to one Python version (3.11 and 3.12 get different pinned
releases), so an existing venv made by another version is refused; give that
interpreter its own, e.g. ``python3 dev.py --python python3.12 --venv .venv312 test``.
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


MIN_PYTHON = (3, 11)


class SetupError(Exception):
    """A setup problem the user fixes with another option (printed as one line)."""


def python_version(python: str) -> tuple[int, int]:
    """(major, minor) of the interpreter ``python``."""
    if python == sys.executable:
        return sys.version_info[:2]
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SetupError(f"--python {python}: cannot run this interpreter ({exc})") from None
    return int(out[0]), int(out[1])


def venv_version(venv: Path) -> tuple[int, int] | None:
    """(major, minor) of the Python that made ``venv``, from its pyvenv.cfg (None if unknown)."""
    cfg = venv / "pyvenv.cfg"
    if not cfg.is_file():
        return None
    for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            parts = value.strip().split(".")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return int(parts[0]), int(parts[1])
    return None


def check_versions(venv: Path, python: str) -> None:
    """Refuse an interpreter that is too old, or a venv made by another Python version.

    Raises:
        SetupError: naming ``--python`` / ``--venv`` and what to type instead.
    """
    want = python_version(python)
    if want < MIN_PYTHON:
        raise SetupError(
            f"--python {python} is Python {want[0]}.{want[1]}; this project needs "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"
        )
    have = venv_version(venv)
    if have is not None and have != want:
        suggestion = venv.with_name(f".venv{want[0]}{want[1]}")
        raise SetupError(
            f"{venv} was made with Python {have[0]}.{have[1]}, but this interpreter is "
            f"{want[0]}.{want[1]} ({python}); each Python version needs its own environment "
            f"(different pinned releases): add --venv {suggestion.name}, e.g. "
            f"python3 dev.py --python {python} --venv {suggestion.name} test, "
            f"or delete {venv} to rebuild it"
        )


def setup(venv: Path, python: str) -> Path:
    """Create ``venv`` and install the project with pinned versions (if not current)."""
    check_versions(venv, python)
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
    ap.add_argument("--venv", default=str(ROOT / ".venv"), help="environment folder")
    ap.add_argument(
        "--python", default=sys.executable, help="interpreter that makes the environment"
    )
    ap.add_argument("command", choices=("setup", "run", "test", "lint"))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    try:
        py = setup(Path(ns.venv), ns.python)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    return subprocess.run(
        [str(py), "-m", "pytest", *parallel(ns.args), *ns.args], cwd=ROOT
    ).returncode


def parallel(args: list[str]) -> list[str]:
    """pytest-xdist options: one worker per core, each test file on one worker
    (``--dist loadfile``: module-scoped fixtures are built once); none when the
    caller chose (``-n``/``--numprocesses``, ``-p no:xdist``) or asks for one core
    (``SIM_TEST_WORKERS=0``)."""
    chosen = any(
        a in ("-n", "--numprocesses", "no:xdist") or a.startswith(("-n", "--numprocesses="))
        for a in args
    )
    workers = os.environ.get("SIM_TEST_WORKERS", "auto")
    if chosen or workers in ("0", "1"):
        return []
    return ["-n", workers, "--dist", "loadfile"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
