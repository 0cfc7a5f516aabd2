"""Bit-identity check of the engine: hash the outputs of a few fixed configurations.

Every performance change to ``sim/core`` must leave these hashes unchanged::

    .venv/bin/python -m benchmarks.exactness            # print hashes
    .venv/bin/python -m benchmarks.exactness --save F   # store them as JSON
    .venv/bin/python -m benchmarks.exactness --check F  # compare with a stored file

The hash is SHA-256 of ``timeseries.to_csv() + flows.to_csv()`` of
``run(compose_config(overrides))``: every column, every row, full float repr.

The kernels are compiled afresh into a temporary numba cache (removed at the
end; ``--cached-kernels`` uses the usual one): numba's disk cache does not
notice when a rule a kernel calls, defined in another module, has changed, so a
stale cached kernel could hide a change of outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

CASES: dict[str, list[str]] = {
    "default_3000": ["merchants.count=3000"],
    "coordinated_3000": ["merchants.count=3000", "policy=coordinated"],
    "escalating_random_2000": [
        "merchants.count=2000",
        "policy=escalating",
        "network.topology=random",
    ],
    "none_2000": ["merchants.count=2000", "policy=none"],
}


def output_hash(overrides: list[str]) -> str:
    """SHA-256 of the CSV text of a run's timeseries and flows."""
    from sim import compose_config, run

    res = run(compose_config(overrides))
    text = res.timeseries.to_csv() + res.flows.to_csv()
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", help="write the hashes to this JSON file")
    ap.add_argument("--check", help="compare with hashes stored in this JSON file")
    ap.add_argument("--only", nargs="*", help="case names to run (default: all)")
    ap.add_argument(
        "--cached-kernels", action="store_true", help="use numba's usual cache (faster, see above)"
    )
    ns = ap.parse_args(argv)
    if "sim" in sys.modules or ns.cached_kernels:
        return _main(ns)
    with tempfile.TemporaryDirectory(prefix="exactness-numba-") as cache:
        os.environ["NUMBA_CACHE_DIR"] = cache
        return _main(ns)


def _main(ns: argparse.Namespace) -> int:
    names = ns.only or list(CASES)
    hashes = {}
    for name in names:
        t0 = time.perf_counter()
        hashes[name] = output_hash(CASES[name])
        print(f"{name:26s} {hashes[name]}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    if ns.save:
        with open(ns.save, "w") as fh:
            json.dump(hashes, fh, indent=2)
            fh.write("\n")
    if ns.check:
        with open(ns.check) as fh:
            ref = json.load(fh)
        bad = [k for k in names if ref.get(k) != hashes[k]]
        print("IDENTICAL" if not bad else f"DIFFERENT: {', '.join(bad)}")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
