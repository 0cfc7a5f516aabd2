"""Every study smoke-runs at tiny size into a temporary folder and writes its figures."""

from __future__ import annotations

import importlib
import json

import pytest
from PIL import Image

from experiments.all import STUDIES
from sim.analysis.load import load_manifest, load_summary

TINY = [
    "profile.merchants=60",
    "profile.replications=2",
    "profile.spinup_weeks=2",
    "executor.workers=1",
    "progress=false",
]


@pytest.mark.parametrize("study", STUDIES)
def test_study_runs_and_writes_figures(tmp_path, study):
    module = importlib.import_module(f"experiments.{study}")
    rc = module.main(study, module.make_figures, [*TINY, f"results_dir={tmp_path}"])
    assert rc == 0
    root = tmp_path / study
    man = load_manifest(root)
    assert len(man) > 0 and (man["status"] == "ok").all()
    assert len(load_summary(root)) == len(man)
    pngs = sorted((root / "figures").glob("*.png"))
    assert pngs, "no figures written"
    for png in pngs:
        assert png.with_suffix(".pdf").exists()
        meta = json.loads(Image.open(png).text["Description"])
        assert meta["experiment"] == study and meta["profile"] == "quick"
        assert "git_sha" in meta and meta["design_sha256"]
    # figures can be rebuilt from the stored results alone
    for png in pngs:
        png.unlink()
    assert (
        module.main(
            study, module.make_figures, [*TINY, f"results_dir={tmp_path}", "--figures-only"]
        )
        == 0
    )
    assert sorted((root / "figures").glob("*.png")) == pngs


def test_bad_override_is_one_clear_error(tmp_path, capsys):
    module = importlib.import_module("experiments.certainty_severity")
    rc = module.main(
        "certainty_severity",
        module.make_figures,
        ["profile.replications=0", f"results_dir={tmp_path}"],
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: profile.replications: must be at least 1")
    assert "Traceback" not in err
