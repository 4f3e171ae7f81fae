"""The Textual app for live discovery (``sld tui``), installed as ``sld.tui``.

The folder sits at the repository root; a wheel installs it as ``sld/tui`` and a
source checkout finds it through :func:`sld.resources.map_checkout_tui`.
"""

from sld.tui.app import run_app as run_app

__all__ = ["run_app"]
