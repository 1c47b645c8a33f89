"""Marketing's desk: its pages' blueprints in menu order, for the composition root.

`tracking` is the one package that may see all of them (`campaigns` never imports
`tracking`; `mailer` names neither but in `create_app`), so the list lives here.
"""

from __future__ import annotations

from flask import Blueprint

from campaigns import calendar_views, outbox_views
from mailer.contacts import import_views
from mailer.letters import views as preview_views
from tracking import campaign_views, funnel_views

MARKETING_BLUEPRINTS: tuple[Blueprint, ...] = (
    campaign_views.bp,
    preview_views.bp,
    calendar_views.bp,
    outbox_views.bp,
    import_views.bp,
    funnel_views.bp,
)
