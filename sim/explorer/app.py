"""The explorer page: ``solara run sim/explorer/app.py`` or ``python -m sim.explorer``.

One :class:`ExplorerModel` per browser session; SolaraViz gives the Step / Play /
Reset controls and the control panel (:func:`sim.explorer.model.model_params`),
applied on Reset.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz

from sim.explorer.components import GreyPrevalence, Headline, Migration, SellerShares
from sim.explorer.model import ExplorerModel, Session, model_params

COMPONENTS = [Headline, SellerShares, Migration, GreyPrevalence]


@solara.component
def Page():
    """The page: SolaraViz over a per-session :class:`ExplorerModel`."""
    session = solara.use_memo(Session, [])
    model = solara.use_memo(lambda: ExplorerModel(session=session), [])
    params = solara.use_memo(lambda: {**model_params(), "session": session}, [])
    return SolaraViz(
        model,
        components=COMPONENTS,
        model_params=params,
        name="Seller migration under platform crackdowns: what-if explorer",
        play_interval=50,
    )
