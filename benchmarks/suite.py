"""Benchmark suite of the engine: speed, memory, per-phase costs, start-up, sweep throughput.

One command runs everything and prints a table; ``--out`` (default
``results/benchmarks/suite_<date>_<time>.json``) receives the figures as JSON::

    .venv/bin/python -m benchmarks.suite                       # 1k, 10k, 100k, 1M firms
    .venv/bin/python -m benchmarks.suite --quick               # 1k and 10k only (~1 min)
    .venv/bin/python -m benchmarks.suite --sizes 1000 50000 --out results/benchmarks/b.json
    .venv/bin/python -m benchmarks.suite --reference-sizes 200 1000 5000  # peer timing

What is measured (each size in a fresh subprocess, so peak RSS is that run's own):

- one run of ``merchants.count=N`` over the default horizon (2020-01 to 2025-12,
  weekly, plus the 52-week unrecorded spin-up, which is simulated and timed):
  model construction time, wall time of the steps, merchant-steps per second
  (alive firms summed over all steps, spin-up included, as counted by the
  model), nanoseconds per merchant-step, total and recorded steps, peak RSS
  (``ru_maxrss`` of the child process);
- a per-phase breakdown of ``MarketModel.step``: the harness wraps each phase
  method of the model instance (and each platform's and enforcer's ``step``)
  with a timer; the model itself carries no timers;
- start-up: wall time of ``python -c "import sim; from sim import compose_config;
  compose_config([])"`` (best of 3) and of ``import sim.core.model`` (the
  engine's own imports, numba kernels loaded from the cache);
- sweep throughput: ``--sweep-runs`` independent runs of ``--sweep-size`` firms
  (different replicates) through a ``concurrent.futures.ProcessPoolExecutor``
  with 1 and 2 workers (workers are started and warmed up before the clock
  starts); runs/s and parallel efficiency ``(runs/s at w) / (w * runs/s at 1)``;
- optionally the per-agent reference model (``benchmarks/reference.py``) at
  ``--reference-sizes``, and the speed-up of the engine over it where both ran
  the same size.

Benchmarks print figures; tests never time anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Phase methods of MarketModel.step, in schedule order (see MarketModel.step).
MODEL_PHASES = (
    "_reset_week",
    "_campaigns",
    "_demand_and_accounts",
    "_release_funds",
    "_learn_risk",
    "_portfolio_decisions",
    "_entry_and_exit",
    "_record",
    "_compact_stores",
)
# Label in the table for each phase, with the agents' own steps in schedule order.
PHASE_LABELS = {
    "_reset_week": "0 fees/reset",
    "_campaigns": "1 campaigns",
    "platforms": "2 platforms",
    "_demand_and_accounts": "3-4 demand+accounts",
    "enforcement": "5 enforcement",
    "_release_funds": "5 release funds",
    "_learn_risk": "6 risk learning",
    "_portfolio_decisions": "7 portfolio",
    "_entry_and_exit": "8 entry/exit",
    "_record": "9 record",
    "_compact_stores": "compaction",
}


# ---------------------------------------------------------------- child side


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _instrument(model) -> dict[str, float]:
    """Wrap the model's phase methods (instance attributes) with accumulating timers."""
    acc = {k: 0.0 for k in PHASE_LABELS}
    clock = time.perf_counter

    def wrap(fn, key):
        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[key] += clock() - t0

        return timed

    for name in MODEL_PHASES:
        setattr(model, name, wrap(getattr(model, name), name))
    for agent in model.platform_agents:
        agent.step = wrap(agent.step, "platforms")
    for agent in model.enforcers:
        agent.step = wrap(agent.step, "enforcement")
    return acc


def child_engine(n: int, phases: bool = True) -> dict:
    """One engine run at ``n`` firms (in this process); returns its figures."""
    t0 = time.perf_counter()
    from sim.engine.compose import compose_config

    t_imp = time.perf_counter()
    from sim.core.model import MarketModel

    t_model_imp = time.perf_counter() - t_imp
    cfg = compose_config([f"merchants.count={n}"])
    t1 = time.perf_counter()
    model = MarketModel(cfg)
    t_build = time.perf_counter() - t1
    rss_built = _peak_rss_mib()
    acc = _instrument(model) if phases else {}
    t2 = time.perf_counter()
    c2 = time.process_time()
    while model.running:
        model.step()
    wall = time.perf_counter() - t2
    cpu = time.process_time() - c2
    counts = model.counts()
    ms = int(model.merchant_steps)
    return {
        "impl": "engine",
        "merchants": n,
        "setup_s": t1 - t0,
        "import_model_s": t_model_imp,
        "build_s": t_build,
        "run_s": wall,
        "run_cpu_s": cpu,  # CPU time of the run: below run_s when the core was shared
        "total_s": wall + t_build,
        "steps": counts["steps"],
        "recorded_steps": counts["recorded_steps"],
        "spinup_steps": counts["spinup_steps"],
        "merchant_steps": ms,
        "store_steps": int(model.store_steps),
        "merchant_steps_per_s": ms / wall if wall > 0 else float("nan"),
        "ns_per_merchant_step": wall / ms * 1e9 if ms else float("nan"),
        "firm_rows": int(model.firms.n),
        "store_rows_end": int(model.stores.n),
        "alive_end": counts["alive_merchants"],
        "peak_rss_after_build_mib": rss_built,
        "peak_rss_mib": _peak_rss_mib(),
        "phases_s": {PHASE_LABELS[k]: v for k, v in acc.items()},
    }


def child_reference(n: int) -> dict:
    """One run of the per-agent reference model at ``n`` firms."""
    from benchmarks.reference import ReferenceModel
    from sim.engine.compose import compose_config

    cfg = compose_config([f"merchants.count={n}"])
    t1 = time.perf_counter()
    model = ReferenceModel(cfg)
    t_build = time.perf_counter() - t1
    t2 = time.perf_counter()
    while model.running:
        model.step()
    wall = time.perf_counter() - t2
    ms = int(model.merchant_steps)
    return {
        "impl": "reference",
        "merchants": n,
        "build_s": t_build,
        "run_s": wall,
        "total_s": wall + t_build,
        "steps": int(model.t + 1),
        "merchant_steps": ms,
        "merchant_steps_per_s": ms / wall if wall > 0 else float("nan"),
        "ns_per_merchant_step": wall / ms * 1e9 if ms else float("nan"),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _spawn(args: list[str], timeout: float | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.suite", *args]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- start-up


def startup(repeats: int = 3) -> dict:
    """Wall time of fresh interpreters doing the import + compose, and the model import."""
    snippets = {
        "import_compose_s": "import sim; from sim import compose_config; compose_config([])",
        "import_model_s": "import sim.core.model",
        "python_bare_s": "pass",
    }
    out = {}
    for key, code in snippets.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
            times.append(time.perf_counter() - t0)
        out[key] = min(times)
    return out


def default_run_cli(tmp: Path) -> float:
    """Wall time of ``python -m sim`` (default scenario, files and figures written)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sim", f"hydra.run.dir={tmp}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


# ------------------------------------------------------------------- sweeps


def _warm(_: int) -> int:
    import sim.core.model  # noqa: F401
    from sim.engine.compose import compose_config

    compose_config([])
    return os.getpid()


def _sweep_job(cfg) -> float:
    from sim.engine.runner import run

    return float(run(cfg).summary["merchant_steps"])


def sweep(workers: int, runs: int, size: int) -> dict:
    """``runs`` independent runs (replicates 0..runs-1) on a pool of ``workers`` processes."""
    from sim.engine.compose import compose_config

    cfgs = [compose_config([f"merchants.count={size}", f"replicate={r}"]) for r in range(runs)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_warm, range(workers * 2)))
        t0 = time.perf_counter()
        done = list(pool.map(_sweep_job, cfgs))
        wall = time.perf_counter() - t0
    return {
        "workers": workers,
        "runs": runs,
        "merchants": size,
        "wall_s": wall,
        "runs_per_s": runs / wall,
        "merchant_steps": sum(done),
    }


# --------------------------------------------------------------------- main


def _fmt_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def machine() -> dict:
    """Where the figures were taken."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }
    try:
        import mesa

        info["mesa"] = mesa.__version__
    except Exception:  # pragma: no cover - mesa missing is reported, not fatal
        info["mesa"] = None
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    return info


def report(res: dict) -> str:
    """The printed tables."""
    lines = []
    m = res["machine"]
    lines.append(
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"numpy {m['numpy']}, mesa {m.get('mesa')}, numba {m.get('numba')}"
    )
    eng = [r for r in res["runs"] if r["impl"] == "engine"]
    if eng:
        rows = []
        for r in eng:
            rows.append(
                [
                    f"{r['merchants']:,}",
                    f"{r['steps']} ({r['recorded_steps']})",
                    f"{r['merchant_steps'] / 1e6:.1f}M",
                    f"{r['build_s']:.2f}",
                    f"{r['run_s']:.2f}",
                    f"{r.get('run_cpu_s', float('nan')):.2f}",
                    f"{r['merchant_steps_per_s'] / 1e6:.2f}",
                    f"{r['ns_per_merchant_step']:.0f}",
                    f"{r['peak_rss_mib']:.0f}",
                ]
            )
        lines.append("\nengine, one run over the default horizon (one core):")
        lines.append(
            _fmt_table(
                rows,
                [
                    "merchants",
                    "steps (recorded)",
                    "merchant-steps",
                    "build s",
                    "run s",
                    "run CPU s",
                    "M m-steps/s",
                    "ns/m-step",
                    "peak RSS MiB",
                ],
            )
        )
        lines.append("\nper-phase share of step time (s):")
        labels = list(PHASE_LABELS.values())
        rows = []
        for lab in labels:
            row = [lab]
            for r in eng:
                s = r["phases_s"].get(lab, 0.0)
                row.append(f"{s:.2f} ({100 * s / r['run_s']:.0f}%)")
            rows.append(row)
        lines.append(_fmt_table(rows, ["phase", *[f"{r['merchants']:,}" for r in eng]]))
    ref = [r for r in res["runs"] if r["impl"] == "reference"]
    if ref:
        rows = []
        engine_by_n = {r["merchants"]: r for r in eng}
        for r in ref:
            e = engine_by_n.get(r["merchants"])
            rows.append(
                [
                    f"{r['merchants']:,}",
                    f"{r['run_s']:.2f}",
                    f"{r['merchant_steps_per_s'] / 1e6:.3f}",
                    f"{r['ns_per_merchant_step']:.0f}",
                    f"{r['peak_rss_mib']:.0f}",
                    f"{r['run_s'] / e['run_s']:.0f}x" if e else "-",
                ]
            )
        lines.append("\nper-agent reference (benchmarks/reference.py):")
        lines.append(
            _fmt_table(
                rows, ["merchants", "run s", "M m-steps/s", "ns/m-step", "peak RSS MiB", "speed-up"]
            )
        )
    if res.get("speedup"):
        lines.append(f"\nspeed-up vs reference: {res['speedup']}")
    for n, x in (res.get("reference_extrapolated") or {}).items():
        lines.append(
            f"reference at {int(n):,} firms (extrapolated from {x['from']:,}): "
            f"{x['run_s']:.0f} s, engine speed-up {x['speedup']:.0f}x"
        )
    if res.get("startup"):
        s = res["startup"]
        lines.append(
            f"\nstart-up: import sim + compose_config([]) {s['import_compose_s']:.2f} s "
            f"(bare python {s['python_bare_s']:.2f} s); import sim.core.model "
            f"{s['import_model_s']:.2f} s"
        )
    if res.get("cli_default_run_s") is not None:
        lines.append(
            f"python -m sim (default run, files + figures): {res['cli_default_run_s']:.1f} s"
        )
    if res.get("sweep"):
        sw = res["sweep"]
        base = sw[0]["runs_per_s"]
        rows = [
            [
                str(s["workers"]),
                f"{s['runs']} x {s['merchants']:,}",
                f"{s['wall_s']:.2f}",
                f"{s['runs_per_s']:.2f}",
                f"{100 * s['runs_per_s'] / (s['workers'] * base):.0f}%",
            ]
            for s in sw
        ]
        lines.append("\nsweep throughput (local process pool):")
        lines.append(_fmt_table(rows, ["workers", "runs", "wall s", "runs/s", "efficiency"]))
    if res.get("targets"):
        lines.append("\ntargets:")
        for k, v in res["targets"].items():
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def targets(res: dict) -> dict:
    """The issue's targets, checked against the figures of this run."""
    out = {}
    eng = {r["merchants"]: r for r in res["runs"] if r["impl"] == "engine"}
    if 1_000_000 in eng:
        r = eng[1_000_000]
        out["1M run <= 60 s"] = f"{r['run_s'] + r['build_s']:.1f} s (build+run)"
        out["1M peak RSS <= 4 GiB"] = f"{r['peak_rss_mib'] / 1024:.2f} GiB"
    big = [r for n, r in eng.items() if n >= 10_000]
    if big:
        rates = [r["merchant_steps_per_s"] for r in big]
        ns = [r["ns_per_merchant_step"] for r in big]
        out[">= 5M merchant-steps/s at 10k..1M"] = (
            f"min {min(rates) / 1e6:.2f}M/s over {sorted(eng)[-len(big) :]}"
        )
        out["per-merchant-step cost varies < 30%"] = (
            f"{100 * (max(ns) - min(ns)) / min(ns):.0f}% (max/min - 1)"
        )
    if res.get("startup"):
        out["start-up < 1 s"] = f"{res['startup']['import_compose_s']:.2f} s"
    if res.get("sweep") and len(res["sweep"]) > 1:
        b = res["sweep"][0]["runs_per_s"]
        s = res["sweep"][1]
        out["sweep efficiency at 2 workers >= 90%"] = (
            f"{100 * s['runs_per_s'] / (s['workers'] * b):.0f}%"
        )
    if res.get("speedup_100k") or res.get("speedup"):
        out["speed-up vs reference >= 100x at 100k"] = res.get("speedup_100k") or res["speedup"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Engine benchmark suite (see module docstring).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="merchants.count values")
    ap.add_argument("--quick", action="store_true", help="small sizes only (1k, 10k)")
    ap.add_argument("--out", default=None, help="JSON output path")
    ap.add_argument("--no-phases", action="store_true", help="do not time phases")
    ap.add_argument("--sweep-runs", type=int, default=8)
    ap.add_argument("--sweep-size", type=int, default=2000)
    ap.add_argument("--sweep-workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--no-startup", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="skip timing `python -m sim`")
    ap.add_argument(
        "--reference-sizes", type=int, nargs="*", default=[], help="sizes for the reference model"
    )
    ap.add_argument("--child", choices=("engine", "reference"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)

    if ns.child == "engine":
        print(json.dumps(child_engine(ns.n, phases=not ns.no_phases)))
        return 0
    if ns.child == "reference":
        print(json.dumps(child_reference(ns.n)))
        return 0

    sizes = ns.sizes  # an empty --sizes runs no single-run sizes (sweep only)
    if sizes is None:
        sizes = [1000, 10_000] if ns.quick else [1000, 10_000, 100_000, 1_000_000]
    res: dict = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "argv": sys.argv[1:] if argv is None else argv,
        "runs": [],
    }
    for n in sizes:
        print(f"engine {n:,} firms ...", file=sys.stderr, flush=True)
        args = ["--child", "engine", "--n", str(n)] + (["--no-phases"] if ns.no_phases else [])
        res["runs"].append(_spawn(args))
    for n in ns.reference_sizes:
        print(f"reference {n:,} firms ...", file=sys.stderr, flush=True)
        res["runs"].append(_spawn(["--child", "reference", "--n", str(n)]))
    eng = {r["merchants"]: r for r in res["runs"] if r["impl"] == "engine"}
    ref = {r["merchants"]: r for r in res["runs"] if r["impl"] == "reference"}
    common = sorted(set(eng) & set(ref))
    if common:
        n = common[-1]
        res["speedup"] = (
            f"{ref[n]['run_s'] / eng[n]['run_s']:.0f}x at {n:,} firms (run time, same suite run)"
        )
    if ref and eng:
        # where the reference was not run at an engine size, extrapolate it linearly in
        # merchant-steps from its largest measured run (its cost per merchant-step does
        # not fall with size, so this flatters the reference)
        n_ref = max(ref)
        res["reference_extrapolated"] = {}
        for n, e in eng.items():
            if n in ref or n < n_ref:
                continue
            est = ref[n_ref]["ns_per_merchant_step"] * 1e-9 * e["merchant_steps"]
            res["reference_extrapolated"][n] = {
                "run_s": est,
                "speedup": est / e["run_s"],
                "from": n_ref,
            }
        if 100_000 in res["reference_extrapolated"]:
            x = res["reference_extrapolated"][100_000]
            res["speedup_100k"] = (
                f"{x['speedup']:.0f}x at 100,000 firms (reference extrapolated from its "
                f"{x['from']:,}-firm run: {x['run_s']:.0f} s)"
            )
    if not ns.no_startup:
        print("start-up ...", file=sys.stderr, flush=True)
        res["startup"] = startup()
    if not ns.no_cli:
        import tempfile

        print("python -m sim ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            res["cli_default_run_s"] = default_run_cli(Path(tmp) / "run")
    if not ns.no_sweep:
        res["sweep"] = []
        for w in ns.sweep_workers:
            print(f"sweep, {w} worker(s) ...", file=sys.stderr, flush=True)
            res["sweep"].append(sweep(w, ns.sweep_runs, ns.sweep_size))
    res["targets"] = targets(res)
    print(report(res))
    out = (
        Path(ns.out)
        if ns.out
        else (ROOT / "results" / "benchmarks" / f"suite_{dt.datetime.now():%Y%m%d_%H%M%S}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
