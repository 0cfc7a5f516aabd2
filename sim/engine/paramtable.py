"""The ODD parameter table, rendered from the config schema and the default preset.

Every leaf of :class:`sim.core.config.SimConfig` is declared with its unit,
range, meaning and source (:func:`sim.core.config.iter_params`). This module
turns those declarations, plus the values the default preset actually uses
(``compose_config([])``), into Markdown tables and keeps the section of
``docs/ODD.md`` between the marker lines in step with the code::

    python -m sim.engine.paramtable                       # print the tables
    python -m sim.engine.paramtable --write docs/ODD.md   # replace the section
    python -m sim.engine.paramtable --check docs/ODD.md   # exit 1 if out of date

The output depends only on the schema and the YAML presets (no dates, no
machine state), so the check is deterministic.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from sim.core.config import SimConfig, iter_params

BEGIN = "<!-- PARAMS:BEGIN -->"
END = "<!-- PARAMS:END -->"
WRITE_COMMAND = "python -m sim.engine.paramtable --write docs/ODD.md"
COLUMNS = ("name", "meaning", "unit", "default (schema; preset)", "range", "source")

# Section captions, in schema order; the key is the first component of the dotted name.
GROUPS: dict[str, str] = {
    "seed": "Run identity",
    "replicate": "Run identity",
    "time": "Time",
    "merchants": "Merchants (firms)",
    "platforms": "Platforms",
    "policy": "Enforcement policy",
    "behaviour": "Merchant behaviour and buyer choice",
    "demand": "Aggregate demand",
    "network": "Association network",
    "incentives": "Public incentives (own web stores)",
}


# ------------------------------------------------------------------ formatting


def fmt_value(value: Any) -> str:
    """Deterministic short text for a config value (numbers, strings, lists, dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # 2**63 - 1 and 2**31 - 1 read better as powers of two
        if value > 10**6 and (value + 1) & value == 0:
            return f"2^{(value + 1).bit_length() - 1}-1"
        return str(value)
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{k}: {fmt_value(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value):
        return fmt_value(dataclasses.asdict(value))
    return str(value)


def _cell(text: str) -> str:
    """Make ``text`` safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`"


# ---------------------------------------------------------------- preset values


def preset_values(cfg: SimConfig, key: str) -> list[tuple[str, Any]]:
    """Values of the dotted schema ``key`` in ``cfg``, one per placeholder expansion.

    ``<platform>`` and ``<origin>`` expand over the dict's keys in ``cfg``
    order, ``name[i]`` over the list's items; the label joins the expanded keys
    (``"amazon"``, ``"tiktok_shop[0]"``), and is ``""`` for a plain key.
    """
    items: list[tuple[str, Any]] = [("", cfg)]
    for part in key.split("."):
        nxt: list[tuple[str, Any]] = []
        for label, node in items:
            if part.startswith("<") and part.endswith(">"):
                for k, v in node.items():
                    nxt.append((f"{label} {k}".strip(), v))
            elif part.endswith("[i]"):
                for i, v in enumerate(getattr(node, part[:-3])):
                    nxt.append((f"{label}[{i}]", v))
            else:
                nxt.append((label, getattr(node, part)))
        items = nxt
    return items


def default_cell(key: str, default: Any, cfg: SimConfig) -> str:
    """Schema default, then the preset's values where any of them differs."""
    base = _code(fmt_value(default))
    values = preset_values(cfg, key)
    if "<" not in key and "[i]" not in key:
        (_, value), *_ = values
        return base if value == default else f"{base}; preset: {_code(fmt_value(value))}"
    if not values or all(v == default for _, v in values):
        return base
    listed = "; ".join(f"{label} {_code(fmt_value(v))}" for label, v in values)
    note = ""
    if key.startswith("policy.enforcement."):
        named = {label.split("[")[0] for label, _ in values}
        if set(cfg.platforms) - named:
            note = " (others: schema default)"
    elif "[i]" in key:
        note = " (other platforms: none)"
    return f"{base}; preset: {listed}{note}"


def range_cell(meta: dict, default: Any) -> str:
    """Allowed range ``[lo, hi]`` or choices, as the validator checks them."""
    choices = meta.get("choices")
    if choices and isinstance(default, list):
        return "non-empty list of: " + ", ".join(choices)
    if choices:
        return "one of: " + ", ".join(choices)
    if meta.get("unit") == "date":
        return "ISO date (YYYY-MM-DD)"
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return "-"
    text = f"[{fmt_value(lo) if lo is not None else '-inf'}, "
    text += f"{fmt_value(hi) if hi is not None else 'inf'}]"
    if isinstance(default, dict):
        text += " per platform"
    return text


# --------------------------------------------------------------------- render


def rows(cfg: SimConfig | None = None) -> list[tuple[str, str, list[str]]]:
    """``(group caption, key, cells)`` for every leaf parameter, in schema order."""
    if cfg is None:
        from .compose import compose_config

        cfg = compose_config([])
    out = []
    for key, meta, default in iter_params():
        cells = [
            _code(key),
            _cell(str(meta.get("doc", ""))),
            _cell(str(meta.get("unit", "-"))),
            _cell(default_cell(key, default, cfg)),
            _cell(range_cell(meta, default)),
            _cell(str(meta.get("source") or "[choice]")),
        ]
        out.append((GROUPS.get(key.split(".")[0], key.split(".")[0]), key, cells))
    return out


def render(cfg: SimConfig | None = None) -> str:
    """The parameter tables in Markdown (what goes between the markers).

    Args:
        cfg: the preset whose values are listed; None composes the default
            preset (``compose_config([])``).
    """
    table_rows = rows(cfg)
    lines = [
        f"_Generated by `{WRITE_COMMAND}` from `sim.core.config.iter_params()` and the "
        "default preset (`compose_config([])`); edit the schema or the presets, not this "
        f"text. {len(table_rows)} parameters. `<platform>` is one of the run's platforms, "
        "`<origin>` is `CN` or `other`, `[i]` indexes a list. Default: the schema default, "
        "followed by the preset's values where any of them differs._",
        "",
    ]
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    group = None
    for caption, _, cells in table_rows:
        if caption != group:
            if group is not None:
                lines.append("")
            lines += [f"**{caption}**", "", header, rule]
            group = caption
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ ODD.md section


def _bounds(text: str) -> tuple[int, int]:
    """Start and end offsets of the text between the marker lines (ValueError if absent)."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"expected exactly one {BEGIN} line and one {END} line")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    if end < start:
        raise ValueError(f"{END} comes before {BEGIN}")
    return start, end


def splice(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    start, end = _bounds(text)
    return text[:start] + "\n" + table + text[end:]


def check_text(text: str, table: str | None = None) -> str | None:
    """None when the marked section of ``text`` equals ``table`` (default: :func:`render`);
    otherwise a message saying what is wrong and how to fix it."""
    try:
        start, end = _bounds(text)
    except ValueError as exc:
        return f"parameter section not found: {exc}"
    table = render() if table is None else table
    if text[start:end] != "\n" + table:
        return (
            "the parameter table is out of date with sim/core/config.py or configs/; "
            f"run `{WRITE_COMMAND}`"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    """Command line: print, ``--write`` or ``--check`` the parameter section."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.engine.paramtable",
        description="Render the ODD parameter table from the config schema and default preset.",
    )
    ap.add_argument("--check", metavar="FILE", help="exit 1 if FILE's parameter section is stale")
    ap.add_argument("--write", metavar="FILE", help="replace FILE's parameter section")
    ns = ap.parse_args(argv)
    if not ns.check and not ns.write:
        sys.stdout.write(render())
        return 0
    table = render()
    if ns.write:
        path = Path(ns.write)
        try:
            new = splice(path.read_text(encoding="utf-8"), table)
        except (OSError, ValueError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
        path.write_text(new, encoding="utf-8", newline="\n")
        print(f"wrote the parameter table ({table.count(chr(10))} lines) into {path}")
    if ns.check:
        path = Path(ns.check)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 1
        problem = check_text(text, table)
        if problem:
            print(f"error: {path}: {problem}", file=sys.stderr)
            return 1
        print(f"{path}: parameter table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
