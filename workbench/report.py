"""Small display helpers for notebooks: sections that say why something does not apply."""

from __future__ import annotations

from IPython.display import Markdown, display

__all__ = ["not_applicable"]


def not_applicable(section: str, because: str) -> None:
    """Show a clear "not applicable" note instead of failing a notebook section."""
    display(Markdown(f"> **{section}: not applicable to this dataset**, because {because}."))
