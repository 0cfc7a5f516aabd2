#!/usr/bin/env bash
# Sweep scaling on a many-core machine, as one prepared script (docs/performance.md).
#
#   bash benchmarks/many_workers.sh OUTDIR [PYTHON]
#
# 1. sweep throughput at 1, 2, 4, 8 and 16 workers: 64 runs of 2,000 firms over the
#    default horizon (benchmarks.suite --sweep-*), efficiency = (runs/s at w) / (w x runs/s at 1);
# 2. one run each of 10k, 100k and 1M firms on one core of the (otherwise idle) machine.
# Each step writes its own JSON and log under OUTDIR, so a step cut short loses only itself.
# Used on the lent 16-core machine, which has numpy/pandas/pyarrow/scipy/numba but not
# mesa/hydra: those travel as wheels in .whl/ (see docs/performance.md, "Many workers").
set -u
out=${1:?usage: many_workers.sh OUTDIR [PYTHON]}
py=${2:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{
  echo "== machine"; nproc; "$py" -V
  "$py" -c "import numpy, numba, pandas, pyarrow, scipy, mesa, hydra; \
print('numpy', numpy.__version__, 'numba', numba.__version__, 'pandas', pandas.__version__, \
'mesa', mesa.__version__, 'hydra', hydra.__version__)"
  lscpu | grep -E "Model name|^CPU\(s\)|Thread|MHz" || true
  echo "== warm numba cache"
  /usr/bin/time -v "$py" -c "import sim.core.model" 2>&1 | grep -E "Elapsed|Maximum resident" || true
} 2>&1 | tee "$out/machine.log"
"$py" -m benchmarks.suite --sizes --no-startup --no-cli --sweep-runs 64 --sweep-size 2000 \
  --sweep-workers 1 2 4 8 16 --out "$out/sweep.json" 2>&1 | tee "$out/sweep.log"
"$py" -m benchmarks.suite --sizes 10000 100000 --no-sweep --no-cli \
  --out "$out/sizes.json" 2>&1 | tee "$out/sizes.log"
"$py" -m benchmarks.suite --sizes 1000000 --no-phases --no-sweep --no-cli --no-startup \
  --out "$out/size_1m.json" 2>&1 | tee "$out/size_1m.log"
