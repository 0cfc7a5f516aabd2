"""Explorer: an interactive what-if page (Mesa SolaraViz) over :class:`MarketModel`.

Start it with ``python -m sim.explorer`` (serves http://127.0.0.1:8765). Layer 4: it
composes configs through :func:`sim.engine.compose.compose_config` and draws with
matplotlib; it never writes files.
"""

from .model import LEVERS, ExplorerModel, Lever, PageModel, Session, headline, overrides

__all__ = ["LEVERS", "ExplorerModel", "Lever", "PageModel", "Session", "headline", "overrides"]
