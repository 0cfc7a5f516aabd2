"""Provenance of a run or sweep: code version, packages, machine, config hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.core.config import SimConfig

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "sim",
    "mesa",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "hydra-core",
    "omegaconf",
    "matplotlib",
    "networkx",
)


def config_dict(cfg: SimConfig) -> dict[str, Any]:
    """The config as plain JSON-able data."""
    return dataclasses.asdict(cfg)


def config_hash(cfg: SimConfig) -> str:
    """SHA-256 of the canonical JSON of the config (seed and replicate included)."""
    blob = json.dumps(config_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def git_version() -> dict[str, Any]:
    """Git commit SHA and whether the work tree has uncommitted changes (None outside git)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": None, "git_dirty": None}
    if sha.returncode != 0:
        return {"git_sha": None, "git_dirty": None}
    return {"git_sha": sha.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape results."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def source_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of the ``sim`` package's source: every ``.py``/``.yaml``.

    Unlike the git SHA it changes only when code that can change results
    changes (not with a docs commit), and it tells two different uncommitted
    edits apart, which the dirty flag cannot. Works outside git as well.
    """
    pkg = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(pkg.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            h.update(path.relative_to(pkg).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """The code that makes runs in this process, taken once (modules load once).

    ``git_sha`` and ``git_dirty`` as in :func:`git_version`; ``source_sha256`` from
    :func:`source_fingerprint`; ``packages`` (JSON of :func:`package_versions`)
    and ``python``. Two runs were made by the same code when ``source_sha256``,
    ``packages`` and ``python`` agree (see :func:`code_key`).
    """
    return {
        **git_version(),
        "source_sha256": source_fingerprint(),
        "packages": json.dumps(package_versions(), sort_keys=True),
        "python": sys.version.split()[0],
    }


CODE_KEYS = ("source_sha256", "packages", "python")


def code_key(version: dict[str, Any]) -> str:
    """A short id of the code that determines results (source, package versions, Python)."""
    blob = json.dumps({k: version.get(k) for k in CODE_KEYS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def figure_provenance(root: str | Path, experiment: str, profile: str, **extra: Any) -> dict:
    """Provenance written into a sweep's figures: code version, study, profile, design hash."""
    design = Path(root) / "design.json"
    return {
        **git_version(),
        "experiment": experiment,
        "profile": profile,
        "design_sha256": hashlib.sha256(design.read_bytes()).hexdigest()
        if design.exists()
        else None,
        **extra,
        "made_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def provenance(cfg: SimConfig, started: float, ended: float) -> dict[str, Any]:
    """Everything needed to say how a result was made."""
    return {
        **git_version(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": platform.node(),
        "started_utc": _iso(started),
        "ended_utc": _iso(ended),
        "seed": cfg.seed,
        "replicate": cfg.replicate,
        "config_hash": config_hash(cfg),
        "source_sha256": source_fingerprint(),
        "command": " ".join(sys.argv),
    }
