"""The command line's tables on a terminal: ids, states and numbers are never folded.

Rich folds every column to fit the terminal: on an 80-column terminal `ma jobs` had folded each job id over 5 lines
and its state as "succeede" / "d", and `ma library tracks` a session id over 2, which could then be neither read nor
copied into the next command. A column whose cells are single words (no space) keeps them whole; the columns of
text (a stage, a file name with spaces, a date and time) fold, down to TEXT_MIN_WIDTH; a table that still does not
fit is printed as wide as that, each row one line the terminal wraps, as `docker ps` and `kubectl get` are.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.table import Table

TEXT_MIN_WIDTH = 12  # a column of text folds to no fewer cells than this (or its longest cell, if shorter)


def fitted_table(columns: list[str], rows: list[list[str]], *, title: str | None = None) -> tuple[Table, int]:
    """The table, and the fewest cells wide it can be drawn without breaking a word-only cell."""
    table = Table(title=title, show_edge=False, header_style="bold")
    least = 3 * len(columns) - 1  # each cell's padding on both sides, and the rule between two columns
    for i, column in enumerate(columns):
        cells = [str(row[i]) for row in rows]
        longest = max([cell_len(column), *(cell_len(cell) for cell in cells)])
        whole = all(" " not in cell.strip() for cell in cells)
        table.add_column(column, overflow="fold", no_wrap=whole, min_width=longest if whole else None)
        least += longest if whole else min(longest, TEXT_MIN_WIDTH)
    for row in rows:
        table.add_row(*row)
    return table, least
