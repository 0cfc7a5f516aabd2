"""Compilation settings shared by the rules and the kernels (numba).

- :func:`rule`: a model rule of scalars (one equation, in its docstring),
  compiled as a numpy ufunc (``numba.vectorize``). The same object is called
  on arrays by numpy code and tests, and on scalars inside the compiled
  kernels, so a test of a rule tests the code that runs. Ufuncs take
  positional arguments only.
- :func:`kernel`: a compiled loop (``numba.njit``) over the firm or store
  table that calls the rules.

No ``fastmath``: floating-point expressions keep their operand order, so
results do not depend on whether a rule runs inside a kernel or on an array.
Both are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

from numba import njit, vectorize

KERNEL_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


def rule(fn):
    """Compile a scalar rule as a ufunc usable from numpy and from kernels.

    The ufunc keeps the Python function as ``.py_func`` (the same source,
    interpreted): per-agent code that calls a rule on single numbers uses it,
    since a ufunc call on scalars costs microseconds of dispatch.
    """
    compiled = vectorize(cache=True)(fn)
    compiled.py_func = fn
    return compiled


def kernel(fn):
    """Compile a loop over the model's tables."""
    return njit(**KERNEL_OPTIONS)(fn)
