"""docs/tutorial.md works: every ``bash`` and ``python`` block runs, in order, at tiny scale.

The blocks are joined into one script (a ``bash`` line becomes a checked
subprocess call) and run in a temporary folder, so nothing is written into the
repository. Scale: the tutorial's 1,000 firms and ``profile=quick`` become 100
firms, 2 replicates and a horizon to the end of 2021 (``SMALL`` below);
``SIM_TUTORIAL_SCALE=as_written`` runs it as written instead (minutes).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
END = "time.end_date=2021-12-27"
SMALL = {
    ".venv/bin/python": shlex.quote(sys.executable),
    "merchants.count=1000": f"merchants.count=100 {END}",
    "profile=quick": (
        "profile=quick profile.merchants=100 profile.replications=2 "
        "profile.end_date=2021-12-27 executor.workers=1 progress=false"
    ),
}


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S)]


def script(text: str, replace: dict[str, str]) -> str:
    """The tutorial's bash and python blocks as one Python script."""
    parts = ["import subprocess"]
    for lang, code in blocks(text):
        if lang == "python":
            parts.append(code)
        elif lang == "bash":
            for line in code.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    for old, new in replace.items():
                        line = line.replace(old, new)
                    parts.append(f"print('$ ' + {line!r}, flush=True)")
                    parts.append(f"subprocess.run({line!r}, shell=True, check=True)")
    return "\n".join(parts) + "\n"


def test_tutorial_has_the_three_steps_and_the_scale_to_replace():
    text = TUTORIAL.read_text(encoding="utf-8")
    langs = [lang for lang, _ in blocks(text)]
    assert langs.count("bash") >= 3 and langs.count("python") >= 3, langs
    bash = "\n".join(code for lang, code in blocks(text) if lang == "bash")
    for old in SMALL:
        assert old in bash, f"docs/tutorial.md no longer contains {old!r}"
    for command in ("-m sim ", "-m sim.analysis.compare", "-m experiments."):
        assert command in bash, command


@pytest.mark.slow  # 55-110 s on the 2-core reference machine: five fresh interpreters
@pytest.mark.skipif(os.name == "nt", reason="the bash blocks need a POSIX shell")
def test_tutorial_blocks_run(tmp_path):
    text = TUTORIAL.read_text(encoding="utf-8")
    as_written = os.environ.get("SIM_TUTORIAL_SCALE") == "as_written"
    replace = {".venv/bin/python": SMALL[".venv/bin/python"]} if as_written else SMALL
    (tmp_path / "tutorial.py").write_text(script(text, replace), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "tutorial.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600 if as_written else 300,
    )
    if as_written:
        print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = tmp_path / "results" / "tutorial"
    for name in (
        "crackdown/summary.json",
        "none/summary.json",
        "compare/platform_shares.png",
        "compare/headlines.json",
        "effect_one_pair.png",
        "paired_differences.png",
        "unilateral_coordinated/figures/paired_differences.png",
    ):
        assert (results / name).is_file(), name
    assert "largest difference before 2021-04-26: 0.0" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tutorial.py"]
