"""Calibration: ABC rejection over a Latin hypercube, then confirmation on fresh seeds.

``python -m sim.validation.calibrate [profile=quick|calibration] [accept=0.05]
[confirm=10] [confirm_replications=10] [confirm_seed=20230102] [overrides] [--report-only]``

Procedure (docs/validation.md, "Calibration"):

1. *Search.* ``configs/experiment/calibration.yaml``: a Latin hypercube over the
   free parameters (uniform or log-uniform priors on the stated bounds), each
   point run over a few replications with common random numbers, through the
   sweep engine with the validation run function, into ``results/calibration/``.
2. *Rejection.* Per point, the mean of each fit target over its replications
   and the fit distance :func:`sim.validation.targets.fit_distance` (RMS of the
   fit targets' normalised distances; holdout targets are never looked at).
   The points with the smallest distances, a fraction ``accept`` of them (at
   least ``MIN_ACCEPT``), are accepted: an approximate posterior sample.
3. *Confirmation.* The ``confirm`` best accepted points are rerun with
   ``confirm_replications`` replications on a different root seed
   (``confirm_seed``) into ``results/calibration_confirm/``, so the choice is
   not made on the noise that selected them. The confirmed point with the
   smallest distance on the fresh seeds is the calibrated parameter vector.

Outputs in ``results/calibration/``: ``calibration_points.csv`` (every point:
parameters, fit-target means, distance, accepted), ``calibration_posterior.csv``
(prior and accepted ranges per parameter), ``calibration_confirm.csv``,
``calibrated.yaml`` (the chosen values as overrides), ``calibration.md`` and
``figures/calibration_posterior.{png,pdf}``. Copying the chosen values into the
presets is a reviewed, manual step (the presets cite this procedure).
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.config import ConfigError

from .targets import TargetSet, fit_distance, measure_runs, validation_table

RUN_FUNCTION = "sim.validation.run:simulate"
MIN_ACCEPT = 3
CONFIRM_MD = (
    "scenario",
    "stage1_distance",
    "replications",
    "fit_passed",
    "fit_targets",
    "distance",
)
OPTIONS = {"accept": 0.05, "confirm": 10, "confirm_replications": 10, "confirm_seed": 20230102}


# ------------------------------------------------------------------- analysis


def measured_points(
    targets: TargetSet, root: str | Path, run_ids: set[str] | None = None
) -> pd.DataFrame:
    """Per-run target values of a stored sweep, with ``point_id``, ``scenario``, ``param.*``.

    With ``run_ids`` (the runs of the design asked for), only those runs are
    used, and a design none of whose runs is stored is an error: the store may
    hold another design's runs (a report-only call with other options).
    """
    from sim.analysis.load import load_flows, load_summary, load_timeseries

    summary = load_summary(root)
    if run_ids is not None and len(summary):
        summary = summary[summary["run_id"].isin(run_ids)].reset_index(drop=True)
    if summary.empty:
        raise FileNotFoundError(
            f"{root}: none of this design's runs is stored (run without --report-only)"
        )
    values = measure_runs(targets, summary, load_timeseries(root), load_flows(root))
    params = [c for c in summary.columns if c.startswith("param.")]
    keys = summary[["run_id", "point_id", "scenario", *params]]
    return keys.merge(values.drop(columns=["replicate"]), on="run_id")


def point_distances(targets: TargetSet, values: pd.DataFrame, by: str = "point_id") -> pd.DataFrame:
    """One row per point: fit-target means, number of fit targets passed, fit distance.

    ``values`` has one row per run (columns: ``by`` and the target ids). Only
    targets with ``use: fit`` enter the distance and the columns.
    """
    fit = [t for t in targets.targets if t.use == "fit"]
    fit_set = TargetSet(fit)
    rows = []
    for key, grp in values.groupby(by, sort=True):
        table = validation_table(fit_set, grp)
        row: dict[str, Any] = {by: key, "replications": len(grp)}
        row.update({f"mean.{t}": m for t, m in zip(table["id"], table["mean"], strict=True)})
        row["fit_passed"] = int((table["status"] == "pass").sum())
        row["fit_targets"] = len(table)
        measured = np.isfinite(table["mean"].astype(float)).all()
        # a fit target that cannot be measured must not make a point look better
        row["distance"] = fit_distance(table, "fit") if measured else math.inf
        rows.append(row)
    return pd.DataFrame(rows)


def accept(points: pd.DataFrame, fraction: float, minimum: int = MIN_ACCEPT) -> pd.Series:
    """Boolean mask of the accepted points: the ``fraction`` with the smallest distance.

    At least ``minimum`` points (or all of them, if fewer). Ties at the
    threshold are all accepted. Points without a finite distance never are.
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"accept: must be in (0, 1], got {fraction}")
    d = points["distance"].astype(float)
    finite = d[np.isfinite(d)]
    if finite.empty:
        return pd.Series(False, index=points.index)
    k = max(minimum, math.ceil(fraction * len(points)))
    k = min(k, len(finite))
    threshold = np.sort(finite.to_numpy())[k - 1]
    return np.isfinite(d) & (d <= threshold)


def posterior_table(design, points: pd.DataFrame, mask: pd.Series, base) -> pd.DataFrame:
    """Per parameter: prior bounds, literature default, accepted quantiles and spread.

    ``spread`` is the accepted points' interquartile range on the unit cube
    divided by that of the prior (0.5): near 1 the targets do not constrain
    the parameter, small values mean it is identified.
    """
    from sim.engine.design import get_value, to_unit

    acc = points[mask]
    rows = []
    for name, spec in sorted(design.parameters.items()):
        col = f"param.{name}"
        u = to_unit(design, name, acc[col].to_numpy(float)) if len(acc) else np.array([])
        q = acc[col].quantile([0.1, 0.5, 0.9]) if len(acc) else pd.Series([np.nan] * 3)
        iqr = float(np.subtract(*np.percentile(u, [75, 25]))) if len(u) else float("nan")
        rows.append(
            {
                "parameter": name,
                "prior_low": spec.lower,
                "prior_high": spec.upper,
                "prior_scale": "log" if spec.log else "linear",
                "default_now": float(get_value(base, name)),
                "accepted_q10": float(q.iloc[0]),
                "accepted_median": float(q.iloc[1]),
                "accepted_q90": float(q.iloc[2]),
                "spread": iqr / 0.5,
            }
        )
    return pd.DataFrame(rows)


def correlations(design, points: pd.DataFrame, mask: pd.Series, threshold: float = 0.5):
    """Spearman correlations of accepted points' parameters with ``|rho| >= threshold``."""
    names = sorted(design.parameters)
    acc = points.loc[mask, [f"param.{n}" for n in names]]
    if len(acc) < 4:
        return pd.DataFrame(columns=["a", "b", "rho"])
    rho = acc.rank().corr().to_numpy()
    out = [
        {"a": names[i], "b": names[j], "rho": float(rho[i, j])}
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(rho[i, j]) >= threshold
    ]
    return pd.DataFrame(out, columns=["a", "b", "rho"]).sort_values(
        "rho", key=np.abs, ascending=False, ignore_index=True
    )


def override_value(v: Any) -> str:
    """A parameter value as a Hydra override literal (floats rounded to 4 significant digits)."""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    return f"{float(v):.4g}"


def yaml_float(v: float) -> str:
    """``override_value`` spelled so that YAML 1.1 loaders read a float (``5.0e-05``)."""
    text = override_value(v)
    mant, e, exp = text.partition("e")
    if "." not in mant:
        mant += ".0"
    return f"{mant}e{exp}" if e else mant


def rounded(params: dict[str, Any]) -> dict[str, float]:
    """The chosen values as they go into the presets (4 significant digits)."""
    return {k: float(override_value(v)) for k, v in params.items()}


# ------------------------------------------------------------------ sweeps


def confirm_sweep(sweep, points: pd.DataFrame, names: list[str], reps: int, seed: int):
    """The stage-2 sweep: each chosen point a named scenario, on root seed ``seed``."""
    from sim.engine.design import DesignConfig

    conf = copy.deepcopy(sweep)
    exp = conf.experiment
    exp.name = f"{exp.name}_confirm"
    exp.description = f"confirmation of the accepted points of {sweep.experiment.name}"
    exp.base = [*exp.base, f"seed={seed}"]
    exp.scenarios = {
        f"point_{int(r.point_id):04d}": [
            f"{n}={override_value(getattr(r, 'p_' + str(i)))}" for i, n in enumerate(names)
        ]
        for r in points.rename(
            columns={f"param.{n}": f"p_{i}" for i, n in enumerate(names)}
        ).itertuples()
    }
    exp.baseline_scenario = ""
    exp.design = DesignConfig(kind="scenarios", parameters={})
    exp.replications = reps
    return conf


# ------------------------------------------------------------------ report


def plot_posterior(design, points: pd.DataFrame, mask: pd.Series, chosen: dict, base):
    """Prior sample vs accepted points per parameter; the chosen and previous defaults."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.engine.design import get_value

    names = sorted(design.parameters)
    ncols = 4
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.5 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        spec = design.parameters[name]
        col = points[f"param.{name}"].astype(float)
        bins = (
            np.geomspace(spec.lower, spec.upper, 13)
            if spec.log
            else np.linspace(spec.lower, spec.upper, 13)
        )
        ax.hist(col, bins=bins, color="#cccccc", label="prior (all points)")
        ax2 = ax.twinx()
        ax2.hist(col[mask], bins=bins, color="#2166ac", alpha=0.7, label="accepted")
        ax2.set_yticks([])
        ax.axvline(float(get_value(base, name)), color="k", ls=":", label="current default")
        if name in chosen:
            ax.axvline(chosen[name], color="#d73027", lw=2, label="calibrated")
        if spec.log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_title(
            name.replace("policy.enforcement.", "").replace("merchants.origins.", ""), fontsize=8
        )
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="#cccccc"),
        plt.Rectangle((0, 0), 1, 1, color="#2166ac", alpha=0.7),
        plt.Line2D([], [], color="k", ls=":"),
        plt.Line2D([], [], color="#d73027", lw=2),
    ]
    fig.legend(
        handles,
        ["prior (all points)", "accepted (ABC)", "current default", "calibrated"],
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle("Calibration: prior sample and accepted points per parameter", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return fig


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in df.itertuples(index=False):
        cells = [floatfmt.format(v) if isinstance(v, float) else str(v) for v in rec]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    root: Path,
    sweep,
    points: pd.DataFrame,
    mask: pd.Series,
    posterior: pd.DataFrame,
    corr: pd.DataFrame,
    confirm: pd.DataFrame | None,
    chosen: dict[str, float] | None,
    options: dict[str, Any],
    base,
) -> list[Path]:
    """Write the calibration tables, the chosen overrides and the figure under ``root``."""
    from sim.analysis.figures import save
    from sim.engine.provenance import figure_provenance

    out = []
    pts = points.assign(accepted=mask.to_numpy())
    for name, frame in (
        ("calibration_points.csv", pts),
        ("calibration_posterior.csv", posterior),
        ("calibration_correlations.csv", corr),
    ):
        frame.to_csv(root / name, index=False)
        out.append(root / name)
    if confirm is not None:
        confirm.to_csv(root / "calibration_confirm.csv", index=False)
        out.append(root / "calibration_confirm.csv")
    prov = figure_provenance(root, sweep.experiment.name, sweep.profile.name, options=options)
    if chosen:
        lines = [
            "# Calibrated parameter values (python -m sim.validation.calibrate); "
            "copy into the presets by hand.",
            f"# experiment {sweep.experiment.name}, profile {sweep.profile.name}, "
            f"git {prov['git_sha']}, design sha256 {prov['design_sha256']}",
            *(f"{k}: {yaml_float(v)}" for k, v in sorted(chosen.items())),
        ]
        (root / "calibrated.yaml").write_text("\n".join(lines) + "\n")
        out.append(root / "calibrated.yaml")
    n_acc = int(mask.sum())
    best = points.loc[points["distance"].idxmin()] if points["distance"].notna().any() else None
    md = [
        f"# Calibration: {sweep.experiment.name}, profile `{sweep.profile.name}`\n",
        f"{len(points)} points x {int(points['replications'].max())} replications "
        f"({sweep.profile.merchants} firms to {sweep.profile.end_date}); "
        f"accepted {n_acc} (fraction {options['accept']}), distance <= "
        f"{points.loc[mask, 'distance'].max():.3f}"
        + (f"; best stage-1 distance {best['distance']:.3f}" if best is not None else "")
        + ".\n",
        "## Posterior (accepted points)\n",
        _md_table(posterior),
    ]
    if len(corr):
        md += ["## Correlated parameters among accepted points (|Spearman rho| >= 0.5)\n"]
        md += [_md_table(corr)]
    if confirm is not None:
        md += [
            f"## Confirmation ({options['confirm_replications']} replications, seed "
            f"{options['confirm_seed']})\n",
            _md_table(confirm[[c for c in CONFIRM_MD if c in confirm]]),
            "(every fit target's mean per point: `calibration_confirm.csv`)\n",
        ]
    if chosen:
        md += [
            "## Chosen values\n",
            _md_table(pd.DataFrame({"parameter": list(chosen), "value": list(chosen.values())})),
        ]
    (root / "calibration.md").write_text("\n".join(md))
    out.append(root / "calibration.md")
    fig = plot_posterior(sweep.experiment.design, points, mask, chosen or {}, base)
    out += save(fig, root / "figures" / "calibration_posterior", prov, ("png", "pdf"))
    return out


# -------------------------------------------------------------------- main


def _parse(args: list[str]) -> tuple[dict[str, Any], list[str], bool]:
    opts = dict(OPTIONS)
    rest, report_only = [], False
    for a in args:
        key, eq, val = a.partition("=")
        if a == "--report-only":
            report_only = True
        elif eq and key in opts:
            cast = type(OPTIONS[key])
            try:
                opts[key] = cast(val)
            except ValueError:
                kind = "an integer" if cast is int else "a number"
                raise ConfigError(f"{key}: expected {kind}, got {val!r}") from None
        else:
            rest.append(a)
    if not 0 < opts["accept"] <= 1:
        raise ConfigError(f"accept: must be in (0, 1], got {opts['accept']}")
    if opts["confirm"] < 1 or opts["confirm_replications"] < 1:
        raise ConfigError("confirm, confirm_replications: must be at least 1")
    return opts, rest, report_only


def _stage1(targets, sweep, specs, opts, base):
    """Stage-1 tables from the store: points, acceptance, posterior, correlations."""
    from sim.engine.sweep import experiment_dir

    design = sweep.experiment.design
    names = sorted(design.parameters)
    reps = len({s.replicate for s in specs})
    values = measured_points(targets, experiment_dir(sweep), {s.run_id for s in specs})
    points = point_distances(targets, values)
    # a point measured on fewer replications than designed (failed runs) is never accepted
    points.loc[points["replications"] < reps, "distance"] = math.inf
    params = values.groupby("point_id")[[f"param.{n}" for n in names]].first().reset_index()
    points = params.merge(points, on="point_id")
    mask = accept(points, opts["accept"])
    return (
        points,
        mask,
        posterior_table(design, points, mask, base),
        correlations(design, points, mask),
    )


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) both stages and write the report; return the exit status."""
    from sim.engine.store import StoreError

    try:
        return _main(argv)
    except StoreError as exc:  # busy, damaged or unwritable store; runs of other code
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    """Run (or resume) both stages and write the report; return the exit status."""
    from sim.engine.compose import compose_config, compose_sweep
    from sim.engine.sweep import expand, experiment_dir, profile_overrides, run_sweep

    from .targets import load_targets

    args = list(sys.argv[1:] if argv is None else argv)
    failed = 0
    try:
        opts, rest, report_only = _parse(args)
        targets = load_targets()
        sweep = compose_sweep("calibration", [f"run_function={RUN_FUNCTION}", *rest])
        pts, specs = expand(sweep)
        names = sorted(sweep.experiment.design.parameters)
        base = compose_config([*sweep.experiment.base, *profile_overrides(sweep.profile)])
        if opts["confirm_seed"] == base.seed:
            raise ConfigError(
                f"confirm_seed: must differ from the search's root seed {base.seed} "
                "(the confirmation reruns points on fresh random streams)"
            )
        # check the confirmation sweep before the search runs (bad seed, bad keys)
        probe = pd.DataFrame(
            [
                {"point_id": p.point_id, **{f"param.{k}": v for k, v in p.params.items()}}
                for p in pts[: opts["confirm"]]
            ]
        )
        _, probe_specs = expand(
            confirm_sweep(sweep, probe, names, opts["confirm_replications"], opts["confirm_seed"])
        )
        if {s.config.seed for s in probe_specs} & {s.config.seed for s in specs}:
            raise ConfigError("confirm_seed: the confirmation would reuse the search's seeds")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = experiment_dir(sweep)
    if not report_only:
        rep = run_sweep(sweep, specs, pts)
        print(rep.line())
        failed += rep.failed
    try:
        points, mask, posterior, corr = _stage1(targets, sweep, specs, opts, base)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # the stage-1 report stands on its own (kept if stage 2 is interrupted)
    for stale in ("calibrated.yaml", "calibration_confirm.csv"):
        (root / stale).unlink(missing_ok=True)
    write_report(root, sweep, points, mask, posterior, corr, None, None, opts, base)
    best = points[mask].sort_values(["distance", "point_id"]).head(opts["confirm"])
    if best.empty:
        print(
            "error: no point has every fit target measured (does the horizon reach the last "
            "fit target's date, end of 2023? did runs fail?); nothing to confirm",
            file=sys.stderr,
        )
        return 1
    conf = confirm_sweep(sweep, best, names, opts["confirm_replications"], opts["confirm_seed"])
    _, conf_specs = expand(conf)
    if not report_only:
        rep2 = run_sweep(conf, conf_specs)
        print(rep2.line())
        failed += rep2.failed
    confirm, chosen = None, None
    try:
        cvals = measured_points(targets, experiment_dir(conf), {s.run_id for s in conf_specs})
    except FileNotFoundError as exc:
        print(f"no confirmation: {exc}", file=sys.stderr)
        cvals = None
    if cvals is not None:
        confirm = point_distances(targets, cvals, by="scenario")
        confirm.loc[confirm["replications"] < opts["confirm_replications"], "distance"] = math.inf
        stage1 = {
            f"point_{int(p):04d}": d for p, d in zip(best.point_id, best.distance, strict=True)
        }
        confirm.insert(1, "stage1_distance", confirm["scenario"].map(stage1))
        confirm = confirm.sort_values(["distance", "scenario"], ignore_index=True)
        top = int(confirm["scenario"].iloc[0].split("_")[1])
        row = points.loc[points["point_id"] == top].iloc[0]
        chosen = rounded({n: row[f"param.{n}"] for n in names})
    for path in write_report(
        root, sweep, points, mask, posterior, corr, confirm, chosen, opts, base
    ):
        print(f"wrote {path}")
    print((root / "calibration.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
