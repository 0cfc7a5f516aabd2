"""Study 1: certainty vs severity of enforcement (audit probability x penalty, deletion lag).

Question: does grey practice respond more to the chance of being caught or to
the size of the penalty (Becker 1968), and what does each cost Amazon in
sellers? Sweep: ``configs/experiment/certainty_severity.yaml``.

    python -m experiments.certainty_severity [profile=paper] [executor=dask ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from experiments._common import main


def make_figures(root: Path, sweep) -> list[Path]:
    """Phase diagrams of grey share and Amazon's CN sellers over the two levers."""
    return []


if __name__ == "__main__":
    sys.exit(main("certainty_severity", make_figures))
