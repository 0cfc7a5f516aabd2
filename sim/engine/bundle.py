"""A results bundle others can cite: a study folder described as an RO-Crate.

    python -m sim.engine.bundle results/<study>

turns a finished study store (``results/<study>/``, written by
``experiments.<study>``) into an `RO-Crate <https://w3id.org/ro/crate>`_ in
place: it verifies every stored part against the checksums the manifest
recorded, copies what a reader needs to rerun the study into
``results/<study>/bundle/`` (the model description ``ODD.md``, the ``configs/``
tree the study was composed from, ``pyproject.toml`` and ``constraints.txt``
with the pinned package versions, and ``RERUN.md`` with the commands), and
writes ``ro-crate-metadata.json`` at the study root. The metadata lists every
data file (Parquet parts, ``design.json``, ``provenance.json``, figures,
reports) with its size and SHA-256, the software (this model at its git
commit and source fingerprint, and each package version recorded in the
study's provenance) and one ``CreateAction`` per code version that made runs
(configs and design in, data out), following the RO-Crate 1.x "Process Run
Crate" pattern. The folder can then be zipped and deposited (Zenodo and
similar accept RO-Crates); ``sim.engine.store verify`` still works on it.

Nothing is written outside the study folder, nothing is fetched from the
network, and a damaged or locked store is refused with one message before
anything is written (``repair`` and rerun the study first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from sim.engine.store import LOCK, MANIFEST, QUARANTINE, TABLES, Store, StoreError, file_sha256

REPO = Path(__file__).resolve().parents[2]
BUNDLE = "bundle"
METADATA = "ro-crate-metadata.json"
#: what each top-level entry of a study folder holds (docs/outputs.md, README "Experiments")
DESCRIPTIONS = {
    "timeseries": "Weekly metrics per (run, step, platform, origin); columns in docs/outputs.md.",
    "flows": "Weekly changes of firms' platform sets per (run, step, origin, from, to, cause).",
    "summary": "Scalar outcomes, one row per run (docs/outputs.md, summary.json).",
    "portfolios": "Firms' platform portfolios at the study's snapshot dates, per run.",
    MANIFEST: "One row per run: id, design point, replicate, seed, status, code version, "
    "size and SHA-256 of its data parts.",
    "figures": "The study's figures (PNG and PDF; provenance in the PNG metadata).",
    "design.json": "The composed study: experiment, profile, design points and runs.",
    "provenance.json": "How the study was run: command, code versions, packages, machine, times.",
}
MEDIA = {
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".yaml": "application/yaml",
    ".toml": "application/toml",
}


class BundleError(Exception):
    """A study folder that cannot be bundled (missing, not a study, damaged, locked)."""


def _study_files(root: Path) -> list[Path]:
    """The study's own files (relative paths, sorted): data, design, provenance,
    figures and reports; not the lock, the quarantine, temporaries or the bundle."""
    skip_dirs = {QUARANTINE, BUNDLE}
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in skip_dirs or rel.name == METADATA:
            continue
        if rel.name.startswith(".") or rel.name.startswith(LOCK) or ".tmp" in rel.name:
            continue
        out.append(rel)
    return out


def _rerun_text(study: str, prov: dict[str, Any]) -> str:
    """RERUN.md: how to rebuild the study from the code version(s) that made it."""
    versions = prov.get("code_versions") or [
        {"git_sha": prov.get("git_sha"), "git_dirty": prov.get("git_dirty")}
    ]
    argv = shlex.split(prov.get("command") or "")
    args = [a for a in argv[1:] if not a.startswith("results_dir=")]
    lines = [
        f"# Rerunning the study `{study}`",
        "",
        "The runs of this study were made by the code version(s) below (each run's",
        "version is in the manifest, `code_key`). Check out the commit, install the",
        "pinned packages (`bundle/constraints.txt`, the same file as in the repository",
        "at that commit) and run the study command; replicate `k` of every design point",
        "uses the same seeds, so the stored tables are reproduced bit for bit on any",
        "executor.",
        "",
    ]
    for v in versions:
        sha = v.get("git_sha") or "(not a git checkout)"
        dirty = (
            " (uncommitted changes: the exact code is not recoverable)"
            if v.get("git_dirty")
            else ""
        )
        lines.append(f"- commit `{sha}`{dirty}, source fingerprint `{v.get('source_sha256')}`")
        lines.append(f"  ({v.get('runs')} runs, Python {v.get('python')})")
    sha = versions[-1].get("git_sha") or "<commit>"
    lines += [
        "",
        f"`bundle/{SOURCE}` holds the source tree of commit `{sha[:12]}` (`git archive`), so",
        "no repository is needed; from a clone of the repository `git checkout` does the same.",
        "",
        "```bash",
        f"tar xzf bundle/{SOURCE} && cd sim-{sha[:12]}   # or: git checkout {sha}",
        "python3 dev.py setup",
        f".venv/bin/python -m experiments.{study} "
        + " ".join(shlex.quote(a) for a in [*args, f"results_dir=results/rerun_{study}"]),
        "```",
        "",
        f"Original command: `{prov.get('command')}`",
        "",
        "The model is described in `bundle/ODD.md` (ODD protocol, Grimm et al. 2020); the",
        "tables' columns and units in `bundle/outputs.md`.",
        "",
    ]
    return "\n".join(lines)


SUPPORT = ("docs/ODD.md", "docs/outputs.md", "configs", "pyproject.toml", "constraints.txt")
SOURCE = "source.tar.gz"


def _code_version(prov: dict[str, Any]) -> str:
    """The commit whose ODD, configs and pins the bundle carries: the study's
    (the latest code version that made runs, when a store holds several)."""
    versions = prov.get("code_versions") or [{"git_sha": prov.get("git_sha")}]
    sha = versions[-1].get("git_sha")
    if not sha:
        raise BundleError(
            "the study's provenance names no git commit: the code that made it cannot be "
            "bundled (run studies from a git checkout)"
        )
    return sha


def _git_archive(sha: str, options: list[str], paths: tuple[str, ...] = ()) -> bytes:
    """``git archive <options> <sha> <paths>`` of this repository; one clear error when
    the commit (the code that made the study) is not here or git cannot run."""
    try:
        proc = subprocess.run(
            ["git", "archive", *options, sha, *paths],
            cwd=REPO,
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BundleError(f"cannot read commit {sha} with git: {exc}") from None
    if proc.returncode != 0:
        raise BundleError(
            f"commit {sha} (the code that made this study) is not in {REPO}: bundle from a "
            f"checkout that has it ({proc.stderr.decode(errors='replace').strip()})"
        )
    return proc.stdout


def _support_files(sha: str, dest: Path) -> None:
    """Extract ``SUPPORT`` as of commit ``sha`` into ``dest`` (``git archive``: the study's
    own model description and configs, not today's), and the commit's whole source tree
    as ``SOURCE``, so the study can be rerun from the deposit alone."""
    with tarfile.open(fileobj=io.BytesIO(_git_archive(sha, ["--format=tar"], SUPPORT))) as tar:
        tar.extractall(dest, filter="data")
    for doc in ("ODD.md", "outputs.md"):
        (dest / "docs" / doc).rename(dest / doc)
    (dest / "docs").rmdir()
    (dest / SOURCE).write_bytes(_git_archive(sha, ["--format=tar.gz", f"--prefix=sim-{sha[:12]}/"]))


def _copy_support(root: Path, study: str, prov: dict[str, Any]) -> list[Path]:
    """Write ``bundle/`` (ODD, configs, pins as of the study's commit; RERUN.md);
    returns the relative paths of its files."""
    sha = _code_version(prov)
    dest = root / BUNDLE
    tmp = root / (BUNDLE + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _support_files(sha, tmp)
        (tmp / "RERUN.md").write_text(_rerun_text(study, prov))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return sorted(p.relative_to(root) for p in dest.rglob("*") if p.is_file())


def _file_props(root: Path, rel: Path, recorded: dict[str, str]) -> dict[str, Any]:
    path = root / rel
    digest = file_sha256(path)
    if rel.as_posix() in recorded and recorded[rel.as_posix()] != digest:
        raise BundleError(f"{path}: SHA-256 differs from the manifest's; run `repair`")
    props: dict[str, Any] = {
        "name": rel.name,
        "contentSize": str(path.stat().st_size),
        "sha256": digest,
    }
    media = MEDIA.get(path.suffix.lower())
    if media:
        props["encodingFormat"] = media
    desc = DESCRIPTIONS.get(rel.parts[0])
    if desc:
        props["description"] = desc
    return props


def _recorded_checksums(store: Store) -> dict[str, str]:
    """``table/part-<data_part>.parquet`` -> SHA-256 as the manifest recorded it."""
    man = store.read_manifest(latest=True)
    out: dict[str, str] = {}
    if "data_part" not in man.columns:
        return out
    for table in TABLES:
        sha = f"{table}_sha256"
        if sha not in man.columns:
            continue
        for part, digest in zip(man["data_part"], man[sha], strict=True):
            if isinstance(part, str) and part and isinstance(digest, str) and digest:
                out[f"{table}/part-{part}.parquet"] = digest
    return out


def make_bundle(root: str | Path, *, now: dt.datetime | None = None) -> Path:
    """Describe the study store ``root`` as an RO-Crate; returns the metadata file's path."""
    root = Path(root)
    if not (root / "design.json").is_file() or not (root / MANIFEST).is_dir():
        raise BundleError(
            f"{root}: not a study folder (needs design.json and {MANIFEST}/ as written by "
            "`python -m experiments.<study>`)"
        )
    store = Store(root)
    try:
        with store.lock(wait_s=0.0):
            damage = store.verify(checksums=True)
            if not damage.ok:
                raise BundleError(
                    f"{root}: the store is damaged; nothing was bundled. Run "
                    f"`python -m sim.engine.store repair {root}` and rerun the study.\n"
                    + "\n".join(damage.lines())
                )
            design = json.loads((root / "design.json").read_text())
            prov_path = root / "provenance.json"
            prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
            man = store.read_manifest(latest=True)
            recorded = _recorded_checksums(store)
            support = _copy_support(root, root.name, prov)
            return _write_metadata(root, design, prov, man, recorded, support, now)
    except StoreError as exc:
        raise BundleError(str(exc)) from exc


def _commit_author(sha: str | None) -> str | None:
    """The author name of commit ``sha`` (git), or None."""
    if not sha:
        return None
    try:
        proc = subprocess.run(
            ["git", "log", "-1", "--format=%an", sha],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None


def _write_metadata(root, design, prov, man, recorded, support, now) -> Path:
    study = root.name
    exp = design.get("experiment")
    description = exp.get("description") if isinstance(exp, dict) else None
    crate = ROCrate()
    # "sha256" is defined by the RO-Crate workflow-run terms (Process Run Crate)
    crate.metadata.extra_contexts.append("https://w3id.org/ro/terms/workflow-run/context")
    crate.name = f"Seller migration ABM: study {study}"
    crate.description = (
        (description or f"Study {study}").rstrip(" .")
        + f" ({len(man)} runs at the {prov.get('profile', '?')} profile, made with the model "
        "'sim', an agent-based model of cross-border merchants moving between e-commerce platforms "
        "under enforcement crackdowns)."
    )
    crate.license = "https://spdx.org/licenses/MIT"
    crate.datePublished = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    crate.keywords = ["agent-based model", "e-commerce", "platform enforcement", "Mesa"]

    files = {}
    for rel in _study_files(root):
        files[rel] = crate.add_file(
            root / rel, dest_path=rel.as_posix(), properties=_file_props(root, rel, recorded)
        )
    for rel in support:
        props = _file_props(root, rel, {})
        if rel.name == "ODD.md":
            props["description"] = "Model description (ODD protocol, Grimm et al. 2020)."
        elif rel.name == "RERUN.md":
            props["description"] = "How to rerun this study from its code version."
        elif rel.name == "constraints.txt":
            props["description"] = "Exact package versions the study was run with."
        elif rel.name == "outputs.md":
            props["description"] = "The tables' columns, units and conventions."
        elif rel.name == SOURCE:
            props["description"] = "Source tree of the commit that made the runs (git archive)."
            props["encodingFormat"] = "application/gzip"
        files[rel] = crate.add_file(root / rel, dest_path=rel.as_posix(), properties=props)

    packages = []
    for name, version in sorted((prov.get("packages") or {}).items()):
        if version is None or name == "sim":
            continue
        packages.append(
            crate.add(
                ContextEntity(
                    crate,
                    f"#package-{name}-{version}",
                    properties={
                        "@type": "SoftwareApplication",
                        "name": name,
                        "version": version,
                        "url": f"https://pypi.org/project/{name}/{version}/",
                    },
                )
            )
        )
    versions = prov.get("code_versions") or [
        {
            "git_sha": prov.get("git_sha"),
            "git_dirty": prov.get("git_dirty"),
            "runs": len(man),
            "code_key": None,
        }
    ]
    inputs = [
        f
        for rel, f in files.items()
        if rel.as_posix() == "design.json" or rel.parts[:2] == (BUNDLE, "configs")
    ]
    author = _commit_author(versions[-1].get("git_sha"))
    if author:
        person = crate.add(
            ContextEntity(
                crate,
                f"#author-{author.replace(' ', '-')}",
                properties={
                    "@type": "Person",
                    "name": author,
                    "description": "author of the model commit that made the runs (git)",
                },
            )
        )
        crate.root_dataset["author"] = [{"@id": person.id}]
    for k, v in enumerate(versions):
        sha = v.get("git_sha") or "unknown"
        app = crate.add(
            ContextEntity(
                crate,
                f"#sim-{sha[:12]}",
                properties={
                    "@type": "SoftwareApplication",
                    "name": "sim (seller migration agent-based model)",
                    "version": (prov.get("packages") or {}).get("sim") or "unknown",
                    "softwareVersion": sha,
                    "identifier": f"source-sha256:{v.get('source_sha256')}",
                    "description": "git commit of the model code"
                    + (" (with uncommitted changes)" if v.get("git_dirty") else ""),
                    "softwareRequirements": [{"@id": p.id} for p in packages],
                },
            )
        )
        outputs = [
            f
            for rel, f in files.items()
            if rel.parts[0] in (*TABLES, "figures") or rel.as_posix() == "provenance.json"
        ]
        crate.add_action(
            app,
            identifier=f"#study-run-{k}",
            object=inputs,
            result=outputs,
            properties={
                "name": f"Run of study {study} ({v.get('runs')} runs with code {sha[:12]})",
                "description": f"Command: {prov.get('command')}",
                "startTime": prov.get("started_utc"),
                "endTime": prov.get("ended_utc"),
            },
        )
    tmp = root / (METADATA + ".tmp")
    tmp.unlink(missing_ok=True)
    crate.metadata.write(root)  # writes root/ro-crate-metadata.json
    return root / METADATA


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sim.engine.bundle",
        description="Describe a finished study folder as an RO-Crate (in place).",
    )
    ap.add_argument("study_dir", help="results/<study>, as written by experiments.<study>")
    ns = ap.parse_args(argv)
    try:
        path = make_bundle(ns.study_dir)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} (RO-Crate) and {Path(ns.study_dir) / BUNDLE}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
