"""Pattern-oriented validation: observed targets, their model measures, the report.

- ``targets.yaml``: the observed patterns (value or range, source, model quantity,
  unit conversion, tolerance, fit or holdout);
- :mod:`.measures`: model quantities (on the live model, or from stored tables);
- :mod:`.targets`: loading, measuring runs, pass/fail;
- :mod:`.run`: the sweep run function that adds the live-model measures;
- :mod:`.report`: table and "model vs observed" figure;
- ``python -m sim.validation``: the command (docs/validation.md).
"""
