"""The results bundle: a finished study folder described as an RO-Crate (sim.engine.bundle)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from rocrate.rocrate import ROCrate

from sim.engine.bundle import BUNDLE, METADATA, BundleError, main, make_bundle
from sim.engine.compose import compose_sweep
from sim.engine.store import Store
from sim.engine.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "profile.merchants=100",
    "profile.replications=1",
    "profile.end_date=2021-06-28",
    "profile.spinup_weeks=4",
    "progress=false",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A tiny finished study (3 scenarios x 1 replicate), with a figure-like report file."""
    tmp = tmp_path_factory.mktemp("bundle")
    sweep = compose_sweep("unilateral_coordinated", [*TINY, f"results_dir={tmp}"])
    run_sweep(sweep)
    root = tmp / "unilateral_coordinated"
    (root / "figures").mkdir(exist_ok=True)
    (root / "figures" / "example.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _graph(root: Path) -> dict[str, dict]:
    doc = json.loads((root / METADATA).read_text())
    context = doc["@context"] if isinstance(doc["@context"], list) else [doc["@context"]]
    assert context[0].startswith("https://w3id.org/ro/crate/1.")
    assert "https://w3id.org/ro/terms/workflow-run/context" in context  # defines sha256
    return {e["@id"]: e for e in doc["@graph"]}


def test_bundle_lists_every_data_file_with_its_checksum_and_the_code_that_made_it(study):
    path = make_bundle(study)
    assert path == study / METADATA
    graph = _graph(study)
    root = graph["./"]
    parts = {p["@id"] for p in root["hasPart"]}
    data = sorted(
        p.relative_to(study).as_posix()
        for sub in ("timeseries", "flows", "summary", "portfolios", "manifest", "figures")
        for p in (study / sub).glob("*")
    )
    assert data and set(data) <= parts
    assert {"design.json", "provenance.json"} <= parts
    for rel in [*data, "design.json"]:
        entity = graph[rel]
        blob = (study / rel).read_bytes()
        assert entity["@type"] == "File"
        assert entity["sha256"] == hashlib.sha256(blob).hexdigest()
        assert int(entity["contentSize"]) == len(blob)
    # the model description, configs and pins travel with the data, as of the study's commit
    for rel in (
        f"{BUNDLE}/ODD.md",
        f"{BUNDLE}/outputs.md",
        f"{BUNDLE}/RERUN.md",
        f"{BUNDLE}/constraints.txt",
        f"{BUNDLE}/source.tar.gz",
    ):
        assert rel in parts and (study / rel).is_file()
    assert (study / BUNDLE / "configs" / "experiment" / "unilateral_coordinated.yaml").is_file()
    prov = json.loads((study / "provenance.json").read_text())
    sha = prov["code_versions"][-1]["git_sha"]
    committed = subprocess.run(
        ["git", "show", f"{sha}:docs/ODD.md"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    assert (study / BUNDLE / "ODD.md").read_bytes() == committed
    assert sha in (study / BUNDLE / "RERUN.md").read_text()
    # the source tree of that commit, enough to rerun without the repository
    with tarfile.open(study / BUNDLE / "source.tar.gz") as tar:
        model = tar.extractfile(f"sim-{sha[:12]}/sim/core/model.py").read()
    assert (
        model
        == subprocess.run(
            ["git", "show", f"{sha}:sim/core/model.py"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    )
    assert (
        "python -m experiments.unilateral_coordinated" in (study / BUNDLE / "RERUN.md").read_text()
    )
    # software and the run: one CreateAction per code version, configs in, tables out
    apps = [e for e in graph.values() if e.get("@type") == "SoftwareApplication"]
    assert any(a.get("softwareVersion") == sha for a in apps)
    assert any(a.get("name") == "numpy" and a.get("version") for a in apps)
    actions = [e for e in graph.values() if e.get("@type") == "CreateAction"]
    assert len(actions) == len(prov["code_versions"])
    results = {r["@id"] for r in actions[0]["result"]}
    assert {p for p in data if not p.startswith("manifest")} <= results
    # a standard RO-Crate reader loads it, and the store still verifies
    crate = ROCrate(study)
    assert crate.get("design.json") is not None
    assert Store(study).verify(checksums=True).ok


def test_bundling_twice_gives_the_same_description(study):
    make_bundle(study)
    first = _graph(study)
    make_bundle(study)
    second = _graph(study)
    first["./"].pop("datePublished")
    second["./"].pop("datePublished")
    assert first == second


def test_a_damaged_store_is_refused_and_nothing_is_written(study, tmp_path):
    import shutil

    copy = tmp_path / "unilateral_coordinated"
    shutil.copytree(study, copy)
    shutil.rmtree(copy / BUNDLE)
    (copy / METADATA).unlink()
    part = sorted((copy / "timeseries").glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-10])  # truncated
    with pytest.raises(BundleError, match="damaged"):
        make_bundle(copy)
    assert not (copy / METADATA).exists() and not (copy / BUNDLE).exists()


def test_not_a_study_folder_is_one_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not a study folder" in err and "design.json" in err


def test_command_line_writes_the_crate(study):
    proc = subprocess.run(
        [sys.executable, "-m", "sim.engine.bundle", str(study)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RO-Crate" in proc.stdout
