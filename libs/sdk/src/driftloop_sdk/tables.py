"""Tables that never cut an id: printed as wide as their content needs, whatever the terminal.

A terminal narrower than the table wraps the lines; no character is replaced by an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """Columns that never wrap: ids stay on one line, whole."""
    out = Table(title=title)
    for column in columns:
        out.add_column(column, no_wrap=True, overflow="ignore")
    for row in rows:
        out.add_row(*row)
    return out


def show(console: Console, rendered: Table) -> None:
    """Print at the table's full width (at least the console's)."""
    needed = rendered.__rich_measure__(console, console.options.update_width(10_000)).maximum
    if needed <= console.width:
        console.print(rendered)
        return
    wide = Console(
        file=console.file,
        width=needed,
        force_terminal=console.is_terminal,
        color_system=console.color_system,  # type: ignore[arg-type]
        highlight=False,
    )
    wide.print(rendered, crop=False)
