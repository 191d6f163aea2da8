"""The app as components see it: typed, so that a component's calls into the app are checked."""

from __future__ import annotations

from typing import cast

from textual.dom import DOMNode

from poolimport.tui.base import TuiApp


def tui_app(node: DOMNode) -> TuiApp:
    """`node.app`, typed: every component runs inside the poolimport app."""
    return cast(TuiApp, node.app)
