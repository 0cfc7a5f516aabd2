"""Trade-association peer network among member firms.

Ties are drawn Chung-Lu style: each of ``E = members * mean_degree / 2``
edges picks its two ends independently with probability proportional to a
weight ``w_i``. ``scale_free`` uses ``w_i = size_i ** hub_exponent`` (large
firms are hubs: heavy-tailed degrees), ``random`` uses ``w_i = 1`` (an
Erdos-Renyi-like graph). Self-loops are dropped, duplicate ties kept once.
Entrants are wired in every ``rewire_every_weeks`` weeks by the same rule, each
bringing ``mean_degree / 2`` new edges to existing members.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .config import NetworkConfig


def tie_weights(size: np.ndarray, cfg: NetworkConfig) -> np.ndarray:
    """Attachment weight of each member: ``size**hub_exponent`` or 1."""
    if cfg.topology == "scale_free":
        return np.power(size, cfg.hub_exponent)
    return np.ones_like(size)


def draw_edges(
    new: np.ndarray,
    pool: np.ndarray,
    pool_weight: np.ndarray,
    n_edges: int,
    rng: np.random.Generator,
    new_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Draw ``n_edges`` edges from firms ``new`` to firms ``pool`` (by weight).

    With ``new_weight`` the "from" end is also weighted (the initial graph,
    where ``new`` and ``pool`` are the same members).
    """
    if n_edges <= 0 or new.size == 0 or pool.size == 0 or pool_weight.sum() <= 0:
        return np.empty((0, 2), dtype=np.int64)
    if new_weight is None:
        a = new[rng.integers(0, new.size, size=n_edges)]
    else:
        a = new[rng.choice(new.size, size=n_edges, p=new_weight / new_weight.sum())]
    b = pool[rng.choice(pool.size, size=n_edges, p=pool_weight / pool_weight.sum())]
    keep = a != b
    return np.stack([a[keep], b[keep]], axis=1)


def adjacency(edges: np.ndarray, n_firms: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency (CSR) from an edge list; duplicates collapse."""
    if edges.size == 0:
        return sp.csr_matrix((n_firms, n_firms), dtype=np.float64)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    a = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_firms, n_firms))
    a.data[:] = 1.0  # duplicates were summed
    return a
