"""Population design: which real firms each model firm stands for.

The real market holds ``N`` firms (``merchants.real_firms``, split by origin)
whose sizes follow a Pareto law with median 1, tail index ``alpha`` and an
upper bound ``x_max`` (``size_max``: the largest real seller). The model
simulates ``n = merchants.count`` model firms, each a *super-individual*
(Scheffer et al. 1995; Parry & Bithell 2012) that stands for ``w_f`` identical
real firms. The weights come from a stratified sample with unequal
probabilities, as survey statisticians draw establishments (probability
proportional to size with certainty units; Horvitz & Thompson 1952; Sarndal,
Swensson & Wretman 1992, ch. 3):

- the smallest ``1 - tail`` of real firms (the *body*, most firms by count)
  are sampled with equal weights ``N / a``;
- the ``tail`` largest are sampled in proportion to size, so every such model
  firm carries the same sales weight ``w_f x_f = N x* / a`` (``x*`` the size
  at the body's edge) and none carries more than a body firm can;
- firms so large that this rule would give them a weight below 1 are drawn
  individually, each model firm one real firm (*certainty* units: the top
  sellers are agents at real scale).

Let ``v`` be a real firm's upper-tail probability (``v = 0`` the largest,
``v = 1`` the smallest). The design is a density ``g(v)`` of model firms over
``v`` (``int_0^1 g = n``): ``g = N`` on ``(0, v_c)``, ``g = a x(v) / x*`` on
``(v_c, tail)`` and ``g = a`` on ``(tail, 1)``; ``a`` and ``v_c`` solve
``int g = n`` and ``a x(v_c) / x* = N``. The initial population is a
stratified sample: model firm ``i`` takes ``v`` uniformly within the ``i``-th
unit of ``G(v) = int_0^v g`` and weight ``N`` times the width of that unit,
so the weights sum to ``N`` exactly and the k-th largest real firm is drawn
from its own rank interval. Entrants are a Poisson sample of the same design:
weight ``N / g(v)``, so the expected real entry is unchanged.

With ``n >= N`` (more model firms than real ones) every model firm gets the
weight ``N / n``; with ``tail = 0`` all weights are equal (``N / n``: the
super-individuals of the first model version, now with a bounded tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq


def size_floor(alpha: float) -> float:
    """``x_m = 2^(-1/alpha)``: the Pareto scale that puts the median at 1."""
    return 2.0 ** (-1.0 / alpha)


def top_tail(alpha: float, size_max: float) -> float:
    """Untruncated tail probability of ``size_max``: ``u_top = (x_max / x_m)^(-alpha)``."""
    return min(1.0, (size_max / size_floor(alpha)) ** (-alpha))


def size_at(v: np.ndarray | float, alpha: float, size_max: float) -> np.ndarray | float:
    """Size of the real firm with upper-tail probability ``v`` (truncated Pareto).

    ``x(v) = x_m (u_top + (1 - u_top) v)^(-1/alpha)``: ``x(0) = x_max``,
    median about 1.
    """
    u_top = top_tail(alpha, size_max)
    return size_floor(alpha) * np.power(u_top + (1.0 - u_top) * np.asarray(v), -1.0 / alpha)


def tail_of_size(x: float, alpha: float, size_max: float) -> float:
    """Inverse of :func:`size_at` (clipped to [0, 1])."""
    u_top = top_tail(alpha, size_max)
    u = (x / size_floor(alpha)) ** (-alpha)
    return min(1.0, max(0.0, (u - u_top) / (1.0 - u_top)))


def mass_below(v: np.ndarray | float, alpha: float, size_max: float) -> np.ndarray | float:
    """``X(v) = int_0^v x(v') dv'``: size mass of the largest share ``v`` of real firms."""
    u_top = top_tail(alpha, size_max)
    b = 1.0 - 1.0 / alpha
    u = u_top + (1.0 - u_top) * np.asarray(v)
    return size_floor(alpha) / ((1.0 - u_top) * b) * (np.power(u, b) - u_top**b)


def expected_size(alpha: float, size_max: float = math.inf) -> float:
    """Mean size of a real firm, ``X(1)`` (``alpha 2^(-1/alpha) / (alpha - 1)`` untruncated)."""
    if math.isinf(size_max):
        return alpha * size_floor(alpha) / (alpha - 1.0)
    return float(mass_below(1.0, alpha, size_max))


def _tail_at_mass(m: np.ndarray, alpha: float, size_max: float) -> np.ndarray:
    """Inverse of :func:`mass_below`."""
    u_top = top_tail(alpha, size_max)
    b = 1.0 - 1.0 / alpha
    u = np.power(u_top**b + m * (1.0 - u_top) * b / size_floor(alpha), 1.0 / b)
    return np.clip((u - u_top) / (1.0 - u_top), 0.0, 1.0)


@dataclass(frozen=True)
class Design:
    """A sampling design of ``n`` model firms for ``N`` real firms of one origin.

    Attributes:
        real: ``N``, real firms.
        model: ``n``, model firms.
        alpha, size_max: the size law.
        tail: share of real firms (the largest) sampled in proportion to size.
        body_density: ``a``, model firms per unit of ``v`` in the body.
        v_cert: ``v_c``, the largest real firms drawn individually (as a share).
        x_star: size at the body's edge.
    """

    real: float
    model: int
    alpha: float
    size_max: float
    tail: float
    body_density: float
    v_cert: float
    x_star: float

    @classmethod
    def solve(cls, real: float, model: int, alpha: float, size_max: float, tail: float):
        """Find ``a`` and ``v_c`` so that the design holds ``model`` firms."""
        n, N = int(model), float(real)
        if n <= 0 or N <= 0:
            return cls(N, n, alpha, size_max, tail, 0.0, 0.0, size_at(1.0, alpha, size_max))
        x_star = float(size_at(tail, alpha, size_max))
        if n >= N or tail <= 0.0:
            # equal weights N / n everywhere (more model firms than real ones, or no tail design)
            return cls(N, n, alpha, size_max, 0.0, float(n), 0.0, x_star)

        def count(a: float) -> float:
            v_c = cls._v_cert(N, a, x_star, alpha, size_max, tail)
            pps = (
                a / x_star * (mass_below(tail, alpha, size_max) - mass_below(v_c, alpha, size_max))
            )
            return N * v_c + pps + a * (1.0 - tail) - n

        a = brentq(count, 1e-12 * N, N, xtol=1e-12 * N, rtol=1e-13)
        v_c = cls._v_cert(N, a, x_star, alpha, size_max, tail)
        return cls(N, n, alpha, size_max, tail, a, v_c, x_star)

    @staticmethod
    def _v_cert(N, a, x_star, alpha, size_max, tail) -> float:
        return min(tail, tail_of_size(N * x_star / a, alpha, size_max))

    # ---------------------------------------------------------------- G and g

    def _g_cert(self) -> float:
        return self.real * self.v_cert

    def _g_tail(self) -> float:
        a, xs = self.body_density, self.x_star
        X = mass_below
        al, xm = self.alpha, self.size_max
        return self._g_cert() + a / xs * (X(self.tail, al, xm) - X(self.v_cert, al, xm))

    def density(self, v: np.ndarray) -> np.ndarray:
        """``g(v)``: model firms per unit of upper-tail probability."""
        v = np.asarray(v, dtype=np.float64)
        a = self.body_density
        if self.tail <= 0.0:
            return np.full(v.shape, a)
        pps = a * size_at(v, self.alpha, self.size_max) / self.x_star
        return np.where(v < self.v_cert, self.real, np.where(v < self.tail, pps, a))

    def position(self, y: np.ndarray) -> np.ndarray:
        """``G^-1(y)``: the upper-tail probability at cumulative model-firm count ``y``."""
        y = np.asarray(y, dtype=np.float64)
        a = self.body_density
        if self.tail <= 0.0:
            return np.clip(y / a, 0.0, 1.0) if a > 0 else np.zeros_like(y)
        g1, g2 = self._g_cert(), self._g_tail()
        cert = y / self.real
        m = mass_below(self.v_cert, self.alpha, self.size_max) + (y - g1) * self.x_star / a
        pps = _tail_at_mass(np.maximum(m, 0.0), self.alpha, self.size_max)
        body = self.tail + (y - g2) / a
        return np.clip(np.where(y <= g1, cert, np.where(y <= g2, pps, body)), 0.0, 1.0)

    # ------------------------------------------------------------- samples

    def stratified(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The initial population, stratified: firm ``i`` at ``G^-1(i + u_i)``.

        Its weight is ``N (G^-1(i+1) - G^-1(i))``, the real firms of its stratum.
        Returns upper-tail probabilities ``v`` and weights ``w`` (real firms).
        """
        n = u.shape[0]
        if n == 0:
            return np.zeros(0), np.zeros(0)
        edges = self.position(np.arange(n + 1, dtype=np.float64))
        edges[0], edges[-1] = 0.0, 1.0
        v = self.position(np.arange(n) + u)
        w = self.real * np.diff(edges)
        return v, w

    def poisson(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entrants: ``v = G^-1(n u)`` (density ``g / n``), weight ``N / g(v)``."""
        if u.shape[0] == 0 or self.model <= 0:
            return np.zeros(0), np.zeros(0)
        v = self.position(self.model * u)
        return v, self.real / self.density(v)


def member_coefficient(size: np.ndarray, weight: np.ndarray, members: float) -> float:
    """``c`` such that ``sum_f w_f min(1, c x_f) = members`` (membership odds proportional to size).

    Returns 0 for no members and ``inf`` when every firm must be a member.
    """
    if members <= 0.0 or size.size == 0:
        return 0.0
    if members >= float(weight.sum()):
        return math.inf

    def excess(c: float) -> float:
        return float((weight * np.minimum(1.0, c * size)).sum()) - members

    hi = 1.0 / float(size.min())
    return float(brentq(excess, 0.0, hi, xtol=1e-15, rtol=1e-13))


def member_probability(size: np.ndarray, coefficient: float) -> np.ndarray:
    """``pi(x) = min(1, c x)``: chance that a firm of size ``x`` is an association member."""
    if math.isinf(coefficient):
        return np.ones_like(size)
    return np.minimum(1.0, coefficient * size)


def split_members(
    attrs: dict[str, np.ndarray], probability: np.ndarray, max_row: float = 0.0
) -> dict[str, np.ndarray]:
    """Association members drawn out of the model firms, so their real count is exact.

    A model firm of ``w`` real firms with membership chance ``pi`` (``min(1, c x)``)
    has ``e = w pi`` members in expectation. A firm whose real firms are all
    members (``e >= w``) is a member; one with ``e >= 1`` is split into a member
    firm of weight ``e`` and a non-member of weight ``w - e``; one with ``e < 1``
    gives up one real firm, a member of weight 1, when its uniform ``u_member``
    is below ``e``; a firm of at most one real firm (``w <= 1``) is a member
    itself when ``u_member < pi``. The split
    firms are copies of their parent (same size, quality, price, propensity,
    stores and listing draws), appended after all parents. So the real members
    are ``sum e`` (the association's 2,600, ``member_coefficient``) up to the
    Bernoulli draws of single firms (standard deviation at most the square root
    of their expected number), no member super-individual stands for more real
    firms than it has members, and the real market (``sum w``) is unchanged.

    With ``max_row > 0`` (``merchants.member_row_max_firms``) no member row stands
    for more than ``max_row`` real firms: a member part of ``m > max_row`` real
    firms (``e`` of a split firm, or ``w`` of a whole member) becomes ``k =
    ceil(m / max_row)`` equal rows of ``m / k``, all copies of the parent.

    Returns the attributes with ``member`` (bool) added and ``u_member`` removed.
    """
    out = dict(attrs)
    w = np.asarray(out["weight"], dtype=np.float64)
    u = out.pop("u_member")
    e = w * probability
    eps = 1e-9
    whole = e >= w - eps
    small = w <= 1.0 + eps  # at most one real firm: it is a member or not
    alone = ~whole & small & (u < probability)
    big = ~whole & ~small & (e >= 1.0)
    single = ~whole & ~small & ~big & (u < e)
    member = whole | alone
    # member rows per firm: the split-off part (big: e real firms; single: 1) and,
    # with max_row, the extra copies of a whole member (w real firms)
    part = np.where(big, e, np.where(single, 1.0, 0.0))
    pieces = (part > 0).astype(np.int64)
    parent_w = w - part
    if max_row > 0.0:
        k = np.maximum(np.ceil(part / max_row - eps), 1.0).astype(np.int64)
        pieces = np.where(part > 0, k, 0)
        many = whole & (w > max_row + eps)
        kw = np.ceil(w[many] / max_row - eps).astype(np.int64)
        parent_w[many] = w[many] / kw
        pieces[many] = kw - 1
        part = np.where(many, w - parent_w, part)
    child = np.repeat(np.arange(w.size), pieces)
    child_w = np.repeat(np.divide(part, pieces, out=np.zeros_like(part), where=pieces > 0), pieces)
    for key, col in attrs.items():
        if key in ("u_member", "weight"):
            continue
        out[key] = np.concatenate([col, col[child]])
    out["weight"] = np.concatenate([parent_w, child_w])
    out["member"] = np.concatenate([member, np.ones(child.size, dtype=bool)])
    return out


def split_pieces(
    real_weight: np.ndarray, mass: np.ndarray, base: float, share: float
) -> np.ndarray:
    """Rows a model firm splits into when it joins a platform (super-individual splitting).

    A model firm of ``W`` real firms whose sales weight on the platform,
    ``m = omega w_new``, would be more than ``share`` of the platform's
    anticipated sales weight ``A`` (``merchants.anticipated_base``, at least ``m``
    itself) becomes ``k = min(floor(W), ceil(m / (share max(A, m))))`` equal rows
    of ``W / k`` real firms each: none of them holds more than ``share`` of the
    platform unless it already stands for a single real firm (Parry & Bithell
    2012). ``k = 1``: no split. Returns ``k`` (int64) per firm.
    """
    w = np.asarray(real_weight, dtype=np.float64)
    m = np.asarray(mass, dtype=np.float64)
    scale = share * np.maximum(base, m)
    need = np.ceil(np.divide(m, scale, out=np.ones_like(m), where=scale > 0) - 1e-9)
    k = np.minimum(np.floor(w + 1e-9), need)
    return np.maximum(k, 1.0).astype(np.int64)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q``-quantile of ``values`` with ``weights`` (real firms): the smallest value
    whose cumulative weight reaches ``q`` of the total; ``inf`` for no values."""
    if values.size == 0 or weights.sum() <= 0:
        return math.inf
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(values[order][min(k, values.size - 1)])
