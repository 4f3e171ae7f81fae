"""The Textual app for live discovery (see sld tui)."""
