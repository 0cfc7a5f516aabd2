"""The results store of a sweep: a manifest and partitioned Parquet, appended per chunk.

Layout of ``<results_dir>/<experiment>/``::

    design.json            the declared design, its points and the run ids of this sweep
    provenance.json        code version, packages, machine, time, profile, executor
    manifest/part-*.parquet    one row per run attempt (status, error, duration, host, ...)
    timeseries/part-*.parquet  per-run weekly tables (+ run_id, point_id, scenario, replicate)
    flows/part-*.parquet       per-run flows
    summary/part-*.parquet     one row per run of scalar outcomes
    portfolios/part-*.parquet  firms by platform portfolio at two snapshot dates
    figures/               PNG and PDF

Crash safety: every file is written under a temporary name and renamed into
place (atomic on POSIX), data parts before the manifest part that refers to
them. A reader trusts only data parts named by a manifest row whose status is
"ok"; a chunk killed between its data and its manifest leaves orphan data
parts, which :meth:`Store.clean` deletes before a sweep resumes. Results are
never pickled.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("timeseries", "flows", "summary", "portfolios")
MANIFEST = "manifest"


def _atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Store:
    """Append-only, crash-safe store of one experiment's runs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------- writing

    def prepare(self) -> None:
        """Create the folders and remove leftovers of an interrupted sweep."""
        for sub in (*TABLES, MANIFEST, "figures"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.clean()

    def clean(self) -> list[Path]:
        """Delete temporary files and data parts no manifest row refers to."""
        removed = []
        for sub in (*TABLES, MANIFEST):
            for tmp in (self.root / sub).glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
        referenced = set()
        man = self.read_manifest(latest=False)
        if len(man):
            referenced = set(man["data_part"].dropna().astype(str))
        for sub in TABLES:
            for part in (self.root / sub).glob("part-*.parquet"):
                if part.stem.removeprefix("part-") not in referenced:
                    part.unlink(missing_ok=True)
                    removed.append(part)
        return removed

    def write_chunk(
        self, manifest_rows: list[dict[str, Any]], tables: dict[str, list[pd.DataFrame]]
    ) -> str:
        """Write one finished chunk: its data parts, then its manifest part.

        Returns the part id shared by the chunk's files.
        """
        part = uuid.uuid4().hex[:16]
        has_data = False
        for name in TABLES:
            frames = [f for f in tables.get(name, []) if f is not None and len(f)]
            if frames:
                _atomic_write_parquet(
                    pd.concat(frames, ignore_index=True), self.root / name / f"part-{part}.parquet"
                )
                has_data = True
        rows = []
        for row in manifest_rows:
            row = dict(row)
            row["data_part"] = part if (row["status"] == "ok" and has_data) else None
            rows.append(row)
        _atomic_write_parquet(pd.DataFrame(rows), self.root / MANIFEST / f"part-{part}.parquet")
        return part

    def write_json(self, name: str, obj: Any) -> None:
        """Write a JSON document (design, provenance) atomically."""
        atomic_write_text(self.root / name, json.dumps(obj, indent=2, sort_keys=True, default=str))

    # ------------------------------------------------------------- reading

    def read_json(self, name: str) -> Any:
        """Read a JSON document of the store (None if absent)."""
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else None

    def _parts(self, sub: str) -> list[Path]:
        return sorted((self.root / sub).glob("part-*.parquet"))

    def read_manifest(self, latest: bool = True) -> pd.DataFrame:
        """All manifest rows; with ``latest`` only each run's last attempt."""
        parts = self._parts(MANIFEST)
        if not parts:
            return pd.DataFrame()
        man = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        if latest and len(man):
            man = (
                man.sort_values(["run_id", "attempt", "finished_utc"])
                .groupby("run_id", as_index=False, sort=True)
                .tail(1)
                .sort_values("run_id")
                .reset_index(drop=True)
            )
        return man

    def done_runs(self) -> set[str]:
        """Run ids whose latest attempt succeeded."""
        man = self.read_manifest()
        if not len(man):
            return set()
        return set(man.loc[man["status"] == "ok", "run_id"])

    def read_table(
        self, name: str, runs: Iterable[str] | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Rows of table ``name`` for successful runs (optionally only ``runs``).

        Only the data part named by each run's manifest row is read, so an
        orphaned or superseded part is never trusted.
        """
        man = self.read_manifest()
        if not len(man):
            return pd.DataFrame()
        ok = man[(man["status"] == "ok") & man["data_part"].notna()]
        if runs is not None:
            ok = ok[ok["run_id"].isin(set(runs))]
        frames = []
        for part, group in ok.groupby("data_part", sort=True):
            path = self.root / name / f"part-{part}.parquet"
            if not path.exists():
                continue
            cols = None if columns is None else sorted({"run_id", *columns})
            df = pd.read_parquet(path, columns=cols)
            frames.append(df[df["run_id"].isin(set(group["run_id"]))])
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)
