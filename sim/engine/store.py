"""The results store of a sweep: a manifest and partitioned Parquet, appended per chunk.

Layout of ``<results_dir>/<experiment>/``::

    design.json            the declared design, its points and the run ids of this sweep
    provenance.json        this session's machine and command, and the code versions of the runs
    manifest/part-*.parquet    one row per run attempt (status, error, duration, host,
                               code version, size and SHA-256 of each data part, ...)
    timeseries/part-*.parquet  per-run weekly tables (+ run_id, point_id, scenario, replicate)
    flows/part-*.parquet       per-run flows
    summary/part-*.parquet     one row per run of scalar outcomes
    portfolios/part-*.parquet  firms by platform portfolio at two snapshot dates
    figures/               PNG and PDF
    damaged/               parts that ``repair`` took out of use (kept for inspection)
    .lock                  the single-writer lock (``filelock``), .lock.owner who holds it

Guarantees (docs/experiments.md, "The results store"):

- One writer at a time: every write happens under :meth:`Store.lock`, an OS
  file lock that dies with its process; a second writer waits (``wait_s``) or
  stops with :class:`StoreBusy`. So :meth:`Store.clean`, which deletes data
  parts no manifest row names, never deletes another live writer's parts.
- Atomic appends: every file is written under a temporary name, flushed to
  disk and renamed into place; a chunk's data parts come before the manifest
  part that names them, so a kill leaves only orphans, never a row that names
  a missing part.
- Integrity record: each manifest row carries the size and SHA-256 of every
  data part of its chunk; Parquet page checksums are written and checked on
  every read. :meth:`Store.verify` finds missing, truncated, corrupt and
  orphaned parts and unreadable manifest parts; :meth:`Store.repair` marks the
  affected runs as not done (status ``damaged``) so the next sweep redoes
  them. Loaders raise one :class:`StoreError` on a damaged store, never
  return fewer runs silently.

Command line::

    python -m sim.engine.store verify results/certainty_severity   # exit 1 if damaged
    python -m sim.engine.store repair results/certainty_severity   # then re-run the study

Results are never pickled.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("timeseries", "flows", "summary", "portfolios")
MANIFEST = "manifest"
QUARANTINE = "damaged"
LOCK = ".lock"
#: Bumped when the stored layout changes in a way that changes what a run stores.
FORMAT = 2


class StoreError(RuntimeError):
    """The store cannot be used as asked (damaged, busy, not writable): one clear message."""


class StoreBusy(StoreError):
    """Another process holds the store's writer lock."""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_part(df: pd.DataFrame, path: Path) -> tuple[int, str]:
    """Write ``df`` as Parquet (page checksums on) atomically; return (bytes, SHA-256)."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp, write_page_checksum=True)
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    size, digest = tmp.stat().st_size, file_sha256(tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return size, digest


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(path, columns=columns, page_checksum_verification=True)


@dataclasses.dataclass
class Damage:
    """What :meth:`Store.verify` found.

    Attributes:
        unreadable_manifest: (manifest part, reason) that cannot be read.
        bad_parts: (table, part id, problem, run ids) for data parts that
            successful runs rely on: problem is ``missing``, ``truncated``
            (size differs from the record), ``corrupt`` (checksum differs or
            Parquet cannot read it).
        orphans: data parts no manifest row names (left by a killed chunk).
        temporary: half-written temporary files.
    """

    unreadable_manifest: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    bad_parts: list[tuple[str, str, str, list[str]]] = dataclasses.field(default_factory=list)
    orphans: list[str] = dataclasses.field(default_factory=list)
    temporary: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No stored result is lost or unreadable (orphans and temporaries are harmless)."""
        return not self.unreadable_manifest and not self.bad_parts

    def affected_runs(self) -> set[str]:
        """Runs whose stored tables are damaged."""
        return {r for *_, runs in self.bad_parts for r in runs}

    def lines(self) -> list[str]:
        """One line per finding."""
        out = [f"unreadable manifest part {p}: {why}" for p, why in self.unreadable_manifest]
        for table, part, problem, runs in self.bad_parts:
            out.append(f"{problem} data part {table}/part-{part}.parquet ({len(runs)} runs)")
        out += [f"orphaned part {p} (no manifest row names it)" for p in self.orphans]
        out += [f"temporary file {p}" for p in self.temporary]
        return out


class Store:
    """Append-only, crash-safe, single-writer store of one experiment's runs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = None

    # --------------------------------------------------------------- locking

    @contextlib.contextmanager
    def lock(self, wait_s: float = 0.0, hint: str = "") -> Iterator[Store]:
        """Hold the store's writer lock (creating the store folder) for the ``with`` block.

        Args:
            wait_s: seconds to wait for another writer to finish (0: do not wait).
            hint: how the user asks to wait, for the message (e.g. ``lock_wait_s=600``).

        Raises:
            StoreBusy: another process still writes this store after ``wait_s``.
            StoreError: the folder cannot be created or written.
        """
        from filelock import FileLock, Timeout

        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.root / LOCK, timeout=max(0.0, wait_s), preserve_lock_file=True)
            lock.acquire()
        except Timeout:
            owner = self.read_json(f"{LOCK}.owner", missing_ok=True) or {}
            who = (
                f" (pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('since')})"
                if owner
                else ""
            )
            waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
            raise StoreBusy(
                f"{self.root}: another process is writing this store{who}{waited}; "
                f"let it finish{' or set ' + hint + ' to wait for it' if hint else ''}"
            ) from None
        except OSError as exc:
            raise not_writable(self.root, exc) from None
        self._lock = lock
        try:
            atomic_write_text(
                self.root / f"{LOCK}.owner",
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "since": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                        "command": " ".join(sys.argv),
                    }
                ),
            )
            yield self
        finally:
            self._lock = None
            lock.release()

    def _require_lock(self) -> None:
        if self._lock is None or not self._lock.is_locked:
            raise RuntimeError(f"{self.root}: writing without the store lock (use Store.lock())")

    # ------------------------------------------------------------- writing

    def prepare(self) -> None:
        """Create the folders and remove leftovers of an interrupted sweep (lock held)."""
        self._require_lock()
        try:
            for sub in (*TABLES, MANIFEST, "figures"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise not_writable(self.root, exc) from None
        self.clean()

    def _orphans_and_temporaries(self) -> tuple[list[Path], list[Path]]:
        temps = [t for sub in (*TABLES, MANIFEST) for t in (self.root / sub).glob(".*.tmp")]
        referenced: set[str] = set()
        man = self.read_manifest(latest=False)
        if len(man) and "data_part" in man:
            referenced = set(man["data_part"].dropna().astype(str))
        orphans = [
            part
            for sub in TABLES
            for part in sorted((self.root / sub).glob("part-*.parquet"))
            if part.stem.removeprefix("part-") not in referenced
        ]
        return orphans, temps

    def clean(self) -> list[Path]:
        """Delete temporary files and data parts no manifest row refers to (lock held).

        Safe only because no other process writes while the lock is held: a
        part without a manifest row is then the leftover of a killed chunk.
        """
        self._require_lock()
        orphans, temps = self._orphans_and_temporaries()
        for path in [*temps, *orphans]:
            path.unlink(missing_ok=True)
        return [*temps, *orphans]

    def write_chunk(
        self, manifest_rows: list[dict[str, Any]], tables: dict[str, list[pd.DataFrame]]
    ) -> str:
        """Write one finished chunk: its data parts, then its manifest part (lock held).

        Each manifest row records the chunk's part id (``data_part``, for
        successful runs) and ``<table>_bytes`` / ``<table>_sha256`` of each
        data part. Returns the part id shared by the chunk's files.
        """
        self._require_lock()
        part = uuid.uuid4().hex[:16]
        record: dict[str, Any] = {}
        for name in TABLES:
            frames = [f for f in tables.get(name, []) if f is not None and len(f)]
            size, digest = None, None
            if frames:
                size, digest = write_part(
                    pd.concat(frames, ignore_index=True), self.root / name / f"part-{part}.parquet"
                )
            record[f"{name}_bytes"] = size
            record[f"{name}_sha256"] = digest
        has_data = any(v is not None for v in record.values())
        rows = []
        for row in manifest_rows:
            row = dict(row)
            ok = row["status"] == "ok" and has_data
            row["data_part"] = part if ok else None
            row.update(record if ok else dict.fromkeys(record))
            rows.append(row)
        frame = pd.DataFrame(rows)
        for name in TABLES:  # typed even when a whole chunk has no such table
            frame[f"{name}_bytes"] = frame[f"{name}_bytes"].astype("Int64")
            frame[f"{name}_sha256"] = frame[f"{name}_sha256"].astype("string")
        write_part(frame, self.root / MANIFEST / f"part-{part}.parquet")
        return part

    def write_json(self, name: str, obj: Any) -> None:
        """Write a JSON document (design, provenance) atomically."""
        atomic_write_text(self.root / name, json.dumps(obj, indent=2, sort_keys=True, default=str))

    # ------------------------------------------------------------- reading

    def damaged(self, what: str) -> StoreError:
        """The one error a reader raises on a damaged store."""
        return StoreError(
            f"{self.root}: damaged store: {what}; run `python -m sim.engine.store verify "
            f"{self.root}` to list the damage and `python -m sim.engine.store repair "
            f"{self.root}` to mark the affected runs for re-running"
        )

    def read_json(self, name: str, missing_ok: bool = True) -> Any:
        """Read a JSON document of the store (None if absent)."""
        path = self.root / name
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (ValueError, OSError) as exc:
            if missing_ok and name.startswith(LOCK):
                return None
            raise StoreError(f"{path}: cannot be read as JSON ({exc})") from None

    def _parts(self, sub: str) -> list[Path]:
        return sorted((self.root / sub).glob("part-*.parquet"))

    def _read_manifest_parts(self) -> tuple[list[pd.DataFrame], list[tuple[str, str]]]:
        frames, bad = [], []
        for p in self._parts(MANIFEST):
            try:
                frames.append(_read_parquet(p))
            except (OSError, pa.ArrowException) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                bad.append((f"{MANIFEST}/{p.name}", f"{reason}"[:200]))
        return frames, bad

    @staticmethod
    def _latest(man: pd.DataFrame) -> pd.DataFrame:
        return (
            man.sort_values(["run_id", "attempt", "finished_utc"])
            .groupby("run_id", as_index=False, sort=True)
            .tail(1)
            .sort_values("run_id")
            .reset_index(drop=True)
        )

    def read_manifest(self, latest: bool = True) -> pd.DataFrame:
        """All manifest rows; with ``latest`` only each run's last attempt.

        Raises:
            StoreError: a manifest part cannot be read (truncated, corrupt).
        """
        frames, bad = self._read_manifest_parts()
        if bad:
            raise self.damaged(f"{bad[0][0]} cannot be read ({bad[0][1]})")
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame()
        man = pd.concat(frames, ignore_index=True)
        return self._latest(man) if latest and len(man) else man

    def done_runs(self) -> set[str]:
        """Run ids whose latest attempt succeeded."""
        man = self.read_manifest()
        if not len(man):
            return set()
        return set(man.loc[man["status"] == "ok", "run_id"])

    @staticmethod
    def _recorded_size(group: pd.DataFrame, name: str) -> int | None:
        col = f"{name}_bytes"
        if col not in group or group[col].isna().all():
            return None
        return int(group[col].dropna().iloc[0])

    def read_table(
        self, name: str, runs: Iterable[str] | None = None, columns: list[str] | None = None
    ) -> pd.DataFrame:
        """Rows of table ``name`` for successful runs (optionally only ``runs``).

        Only the data part named by each run's manifest row is read, so an
        orphaned or superseded part is never trusted.

        Raises:
            StoreError: a part the manifest names is missing, truncated or corrupt.
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
            size = self._recorded_size(group, name)
            rel = f"{name}/{path.name}"
            if not path.exists():
                if size is None and f"{name}_bytes" in group:
                    continue  # the chunk stored no rows of this table
                if size is not None or name != "portfolios":
                    raise self.damaged(f"{rel} is missing ({len(group)} runs)")
                continue
            if size is not None and path.stat().st_size != size:
                raise self.damaged(f"{rel} is truncated ({path.stat().st_size} of {size} bytes)")
            cols = None if columns is None else sorted({"run_id", *columns})
            try:
                df = _read_parquet(path, columns=cols)
            except (OSError, pa.ArrowException) as exc:
                raise self.damaged(f"{rel} cannot be read ({str(exc)[:200]})") from None
            frames.append(df[df["run_id"].isin(set(group["run_id"]))])
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    # ----------------------------------------------------- verify and repair

    def verify(self, checksums: bool = True) -> Damage:
        """Check every part successful runs rely on; find orphans and temporaries.

        Args:
            checksums: also compare SHA-256 digests and parse each Parquet part
                (reads every byte); otherwise only existence and size.
        """
        damage = Damage()
        frames, damage.unreadable_manifest = self._read_manifest_parts()
        frames = [f for f in frames if len(f)]
        man = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        referenced: set[str] = set()
        if len(man) and "data_part" in man:
            referenced = set(man["data_part"].dropna().astype(str))
            latest = self._latest(man)
            ok = latest[(latest["status"] == "ok") & latest["data_part"].notna()]
            for part, group in ok.groupby("data_part", sort=True):
                runs = sorted(group["run_id"])
                for name in TABLES:
                    problem = self._check_part(name, str(part), group, checksums)
                    if problem:
                        damage.bad_parts.append((name, str(part), problem, runs))
        for sub in TABLES:
            for p in self._parts(sub):
                if p.stem.removeprefix("part-") not in referenced:
                    damage.orphans.append(f"{sub}/{p.name}")
        for sub in (*TABLES, MANIFEST):
            damage.temporary += [f"{sub}/{t.name}" for t in (self.root / sub).glob(".*.tmp")]
        return damage

    def _check_part(self, name: str, part: str, group: pd.DataFrame, checksums: bool) -> str:
        path = self.root / name / f"part-{part}.parquet"
        size = self._recorded_size(group, name)
        if size is None:
            if f"{name}_bytes" in group or not path.exists():
                return ""  # the chunk stored no rows of this table (or an old store)
            return "corrupt" if checksums and not self._parses(path) else ""
        if not path.exists():
            return "missing"
        if path.stat().st_size != size:
            return "truncated"
        if checksums:
            digest = group[f"{name}_sha256"].dropna().iloc[0]
            if file_sha256(path) != digest or not self._parses(path):
                return "corrupt"
        return ""

    @staticmethod
    def _parses(path: Path) -> bool:
        try:
            _read_parquet(path)
        except (OSError, pa.ArrowException):
            return False
        return True

    def repair(self) -> Damage:
        """Take damaged parts out of use and mark their runs as not done (lock held).

        Unreadable manifest parts and damaged data parts move to ``damaged/``;
        each run whose stored tables were damaged gets a manifest row with
        status ``damaged`` (attempt + 1), so the next sweep runs it again;
        orphans and temporary files are deleted. Returns what was found.
        """
        self._require_lock()
        found = self.verify(checksums=True)
        quarantine = self.root / QUARANTINE
        for rel, _ in found.unreadable_manifest:
            quarantine.mkdir(exist_ok=True)
            os.replace(self.root / rel, quarantine / rel.replace("/", "-"))
        # runs recorded only in a quarantined manifest part are simply not done now;
        # look again for data parts that successful runs rely on
        damage = self.verify(checksums=True) if found.unreadable_manifest else found
        if damage.bad_parts:
            latest = self.read_manifest()
            affected = latest[latest["run_id"].isin(damage.affected_runs())]
            why = {
                r: f"{p}: {t}/part-{part}.parquet"
                for t, part, p, runs in damage.bad_parts
                for r in runs
            }
            rows = []
            now = pd.Timestamp.now(tz="UTC").isoformat()
            for rec in affected.to_dict("records"):
                rec = {k: v for k, v in rec.items() if not k.endswith(("_bytes", "_sha256"))}
                rec.update(
                    status="damaged",
                    error=f"{why[rec['run_id']]}; marked for re-running by `repair`",
                    attempt=int(rec["attempt"]) + 1,
                    finished_utc=now,
                    data_part=None,
                )
                rows.append(rec)
            self.write_chunk(rows, {})
            for part in sorted({part for _, part, _, _ in damage.bad_parts}):
                for name in TABLES:
                    path = self.root / name / f"part-{part}.parquet"
                    if path.exists():
                        quarantine.mkdir(exist_ok=True)
                        os.replace(path, quarantine / f"{name}-{path.name}")
        self.clean()
        found.bad_parts += [b for b in damage.bad_parts if b not in found.bad_parts]
        return found


def not_writable(root: Path, exc: OSError) -> StoreError:
    """The one message for a results folder that cannot be written."""
    reason = exc.strerror or type(exc).__name__
    return StoreError(
        f"results_dir: cannot write to {root} ({reason}); choose a writable folder with "
        "results_dir=<folder>"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.engine.store verify|repair <dir>``."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.engine.store",
        description="Check a sweep's results store, or repair it so a re-run redoes damaged runs.",
    )
    ap.add_argument("command", choices=("verify", "repair"))
    ap.add_argument("root", help="the store, e.g. results/certainty_severity")
    ap.add_argument("--quick", action="store_true", help="verify sizes only (no checksums)")
    ap.add_argument("--wait", type=float, default=0.0, help="repair: seconds to wait for a writer")
    ns = ap.parse_args(argv)
    store = Store(ns.root)
    if not (store.root / MANIFEST).is_dir():
        print(f"error: {store.root} is not a results store (no {MANIFEST}/)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        if ns.command == "verify":
            damage = store.verify(checksums=not ns.quick)
        else:
            with store.lock(ns.wait, hint="--wait <seconds>"):
                damage = store.repair()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in damage.lines():
        print(line)
    n = len(damage.affected_runs())
    if ns.command == "verify":
        state = "ok" if damage.ok else f"DAMAGED ({n} runs affected)"
        print(f"{store.root}: {state} ({time.perf_counter() - t0:.1f} s)")
        return 0 if damage.ok else 1
    lost = len(damage.unreadable_manifest)
    print(
        f"{store.root}: repaired: {n} runs marked for re-running, {lost} manifest parts and "
        f"the damaged data parts moved to {QUARANTINE}/, {len(damage.orphans)} orphans and "
        f"{len(damage.temporary)} temporary files removed; re-run the study to redo them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
