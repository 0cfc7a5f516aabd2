"""The documentation keeps up with the code.

- docs/ODD.md's generated parameter section equals what the schema and the
  default preset render now (``python -m sim.engine.paramtable --check``);
- every leaf parameter of the schema is named in docs/ODD.md;
- every column a run produces is described in docs/outputs.md;
- no docs/*.md repeats a section heading (a stale duplicate of a section).

Each test fails when the code gains something the documents do not describe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim import compose_config, run
from sim.core.config import iter_params
from sim.engine import paramtable

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
OUTPUTS = ROOT / "docs" / "outputs.md"
TINY = ["merchants.count=200", "time.end_date=2020-03-01", "time.spinup_weeks=2"]


@pytest.fixture(scope="module")
def odd_text() -> str:
    return ODD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def outputs_text() -> str:
    return OUTPUTS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_run():
    return run(compose_config(TINY))


def _documented_names(text: str) -> set[str]:
    """Names written as inline code (`name`) in a Markdown text."""
    return set(re.findall(r"`([^`\n]+)`", text))


def _section(text: str, heading: str) -> str:
    """The part of ``text`` under the level-2 heading ``## heading`` (up to the next one)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/outputs.md has no section '## {heading}'"
    return match.group(1)


def test_parameter_section_is_up_to_date(odd_text):
    problem = paramtable.check_text(odd_text)
    assert problem is None, f"docs/ODD.md: {problem}"


def test_check_detects_a_stale_section(odd_text):
    stale = paramtable.splice(odd_text, paramtable.render().replace("| `seed` |", "| `sead` |"))
    assert paramtable.check_text(stale) is not None
    assert paramtable.check_text(odd_text.replace(paramtable.BEGIN, "")) is not None


def test_cli_check_and_write(tmp_path, capsys):
    table = paramtable.render()
    current = f"# Doc\n\n{paramtable.BEGIN}\n{table}{paramtable.END}\n\nafter\n"
    doc = tmp_path / "ODD.md"
    doc.write_text(current, encoding="utf-8")
    assert paramtable.main(["--check", str(doc)]) == 0
    doc.write_text(paramtable.splice(current, "stale\n"), encoding="utf-8")
    assert paramtable.main(["--check", str(doc)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert paramtable.main(["--write", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == current
    doc.write_text("no markers\n", encoding="utf-8")
    assert paramtable.main(["--check", str(doc)]) == 1
    assert paramtable.main(["--write", str(doc)]) == 2


def test_render_is_deterministic():
    assert paramtable.render() == paramtable.render()


def test_every_parameter_is_in_odd(odd_text):
    named = _documented_names(odd_text)
    keys = [key for key, _, _ in iter_params()]
    assert len(keys) > 50
    missing = [key for key in keys if key not in named]
    assert not missing, f"parameters not described in docs/ODD.md: {missing}"


def test_every_timeseries_column_is_in_outputs(tiny_run, outputs_text):
    named = _documented_names(_section(outputs_text, "timeseries.parquet"))
    columns = list(tiny_run.timeseries.columns)
    assert len(columns) > 30
    missing = [c for c in columns if c not in named]
    assert not missing, f"timeseries columns not described in docs/outputs.md: {missing}"


def test_every_flows_column_and_cause_is_in_outputs(tiny_run, outputs_text):
    from sim.core.enforcement import CAUSES

    named = _documented_names(_section(outputs_text, "flows.parquet"))
    columns = list(tiny_run.flows.columns)
    assert len(columns) == 7
    missing = [c for c in [*columns, *CAUSES] if c not in named]
    assert not missing, f"flows columns or causes not described in docs/outputs.md: {missing}"


def test_every_summary_key_is_in_outputs(tiny_run, outputs_text):
    named = _documented_names(_section(outputs_text, "summary.json"))
    platforms = list(tiny_run.config.platforms)
    labels = ("before_crackdown", "end_2021", "end_2023", "end")

    def documented(key: str) -> bool:
        if key in named:
            return True
        for name in named:  # templates: `..._<label>`, `..._<platform>`, `a`, `b` pairs
            pattern = re.escape(name)
            pattern = pattern.replace(re.escape("<label>"), "(" + "|".join(labels) + ")")
            pattern = pattern.replace(re.escape("<platform>"), "(" + "|".join(platforms) + ")")
            if re.fullmatch(pattern, key):
                return True
        return False

    missing = [k for k in tiny_run.summary if not documented(k)]
    assert not missing, f"summary.json keys not described in docs/outputs.md: {missing}"


# Everything the README and docs/ cite lives in the repository (a clone has nothing else).
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "experiments" / "README.md",
    ROOT / "results" / "README.md",
]
#: a repository file named in inline code, e.g. `sim/core/config.py` or `docs/ODD.md`
_REPO_PATH = re.compile(r"`((?:\.\./)*[\w.-]+(?:/[\w.-]+)+\.(?:md|py|yaml|toml|txt|sh|json|png))`")
#: paths that name outputs or folders of a run, not repository files
_NOT_IN_REPO = ("results/", ".hydra/", "figures/", "timeseries/", "flows/", "summary/")


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def _links(text: str) -> list[str]:
    """Targets of Markdown links and images, outside fenced code blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(doc):
    bad = []
    for target in _links(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        name, _, fragment = target.partition("#")
        path = (doc.parent / name).resolve() if name else doc
        if not path.is_relative_to(ROOT) or not path.exists():
            bad.append(f"{target}: no such file in the repository")
        elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
            bad.append(f"{target}: no heading '#{fragment}' in {path.name}")
    assert not bad, f"{doc.name}: {bad}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_file_named_in_code_exists(doc):
    """`path/to/file.py` in a doc names a file of this repository (none outside it)."""
    text = doc.read_text(encoding="utf-8")
    missing = []
    for name in _REPO_PATH.findall(text):
        if name.startswith(_NOT_IN_REPO):
            continue
        candidates = [(ROOT / name).resolve(), (doc.parent / name).resolve()]
        if not any(c.is_relative_to(ROOT) and c.exists() for c in candidates):
            missing.append(name)  # also a sibling checkout's file, e.g. ../shared/...
    assert not missing, f"{doc.name} names files that are not in the repository: {missing}"


def test_link_checks_catch_what_they_should(tmp_path):
    assert _links("see [a](docs/a.md#x) and ![b](img.png)\n```\n[c](no.md)\n```\n") == [
        "docs/a.md#x",
        "img.png",
    ]
    assert _slug("Outputs (a stable contract)") == "outputs-a-stable-contract"
    assert _slug("What changed in 0.2") == "what-changed-in-02"
    assert _REPO_PATH.findall("contract: `../shared/architecture.md`") == [
        "../shared/architecture.md"
    ]


def _headings(text: str) -> list[str]:
    """Markdown ATX headings' text (level marks stripped), outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)):
            out.append(m.group(1))
    return out


def test_headings_helper_skips_code_and_strips_levels():
    text = "# A\n\n```\n# not a heading\n```\n## B ##\n### A\n"
    assert _headings(text) == ["A", "B", "A"]


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_section_headings_are_unique_within_each_doc(doc):
    """A heading written twice in one document is a stale copy of a section."""
    seen: set[str] = set()
    repeated = [h for h in _headings(doc.read_text(encoding="utf-8")) if h in seen or seen.add(h)]
    assert not repeated, f"docs/{doc.name} repeats section headings: {repeated}"
