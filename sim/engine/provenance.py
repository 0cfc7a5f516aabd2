"""Provenance of a run or sweep: code version, packages, machine, config hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
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
        "command": " ".join(sys.argv),
    }
