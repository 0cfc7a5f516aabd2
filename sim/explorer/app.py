"""The explorer page: ``solara run sim/explorer/app.py`` or ``python -m sim.explorer``.

One :class:`PageModel` (a what-if and its baseline) per browser session. SolaraViz
gives the Step / Play / Reset controls and two tabs: Page 0 compares (headline
numbers of both runs, what-if minus baseline, copy as command), Page 1 shows the
what-if's own curves. The sidebar adds "Run to date" and the lever panel
(:func:`sim.explorer.components.LeverPanel`, values shown), applied on Reset.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz

from sim.explorer.components import (
    EffectGrey,
    EffectSellers,
    GreyPrevalence,
    Headline,
    LeverPanel,
    Migration,
    Reproduce,
    RunToDate,
    SellerShares,
)
from sim.explorer.model import PageModel, Session

COMPARE, WHATIF = 0, 1  # SolaraViz tabs "Page 0" and "Page 1"
COMPONENTS = [
    (Headline, COMPARE),
    (EffectSellers, COMPARE),
    (EffectGrey, COMPARE),
    (Reproduce, COMPARE),
    (SellerShares, WHATIF),
    (GreyPrevalence, WHATIF),
    (Migration, WHATIF),
]

# SolaraViz draws a "Model Parameters" card for its own controls; the page has its own
# lever panel, so that card is empty: hide it.
CSS = """
.v-navigation-drawer .v-card:has(> .v-card__text > .v-sheet:empty) { display: none; }
"""


@solara.component
def _SidebarCards(model: solara.Reactive[PageModel], session: Session):
    with solara.Sidebar():
        RunToDate(model)
        LeverPanel(session)


@solara.component
def _Extras(model: solara.Reactive[PageModel], session: Session):
    # one component deeper than SolaraViz's own sidebar, so that these cards come
    # after its Controls card (the sidebar orders its parts by depth)
    _SidebarCards(model, session)


@solara.component
def Page():
    """The page: SolaraViz over a per-session :class:`PageModel`, and the sidebar extras."""
    session = solara.use_memo(Session, [])
    first = solara.use_memo(lambda: PageModel(session=session), [])
    model = solara.use_reactive(first)  # SolaraViz's Reset sets model.value
    params = solara.use_memo(lambda: {"session": session}, [])
    solara.Style(CSS)
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=params,
        name="Seller migration under platform crackdowns: what-if explorer",
        play_interval=50,
    )
    _Extras(model, session)
