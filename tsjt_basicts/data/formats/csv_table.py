"""Reading the cells of a user's CSV file: a header, rows of equal length, numbers with NA marks.

Shared by the series, sensors and edges files of :mod:`tsjt_basicts.data.formats.csv_format`.
Text is UTF-8 (a spreadsheet's byte-order mark is dropped); columns are separated by commas, or
by semicolons or tabs when the header line holds no comma (spreadsheet exports in some locales).
Blank lines are skipped. Every problem names the file, and the line and column where it lies.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from tsjt_basicts.data.city import DataError

NA_MARKERS = ("", "na", "n/a", "nan", "null", "none", "#n/a")  # compared after strip + lower case


@dataclass(frozen=True)
class Table:
    """A CSV file's header (stripped names), its data rows and the line number of each row."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def column(self, index: int) -> list[str]:
        """The cells of column ``index``."""
        return [row[index] for row in self.rows]

    def columns_named(self, names: tuple[str, ...]) -> list[int]:
        """Indices of the columns whose name, in lower case, is one of ``names``."""
        return [i for i, name in enumerate(self.header) if name.lower() in names]

    def require_column(self, name: str, what_it_holds: str) -> int:
        """Index of the column ``name`` (any case), or a DataError saying what it should hold."""
        found = self.columns_named((name,))
        if not found:
            raise DataError(f"{self.path} has no column {name!r} (header: {self.header}); add it: {what_it_holds}")
        return found[0]


def delimiter_of(first_line: str) -> str:
    """A comma, else a semicolon or tab when the header line holds one and no comma."""
    if "," not in first_line:
        for candidate in (";", "\t"):
            if candidate in first_line:
                return candidate
    return ","


def read_table(path: Path, what_goes_there: str) -> Table:
    """The header and rows of ``path``; refused when empty, unreadable or ragged."""
    if not path.is_file():
        raise DataError(f"{path} not found: put {what_goes_there} there")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; save it as 'CSV UTF-8'") from None
    lines = text.splitlines()
    if not lines:
        raise DataError(f"{path} is empty: put {what_goes_there} there")
    reader = csv.reader(lines, delimiter=delimiter_of(lines[0]))
    try:
        header, *records = [(reader.line_num, row) for row in reader if row]
    except (csv.Error, ValueError) as error:
        raise DataError(f"{path} is not a readable CSV ({error}); save it as plain comma-separated text") from None
    names = [name.strip() for name in header[1]]
    check_header(path, names)
    for line, row in records:
        if len(row) != len(names):
            raise DataError(
                f"{path}, line {line}: {len(row)} cells, the header has {len(names)}; give every row one cell "
                "per column (leave a cell empty for a missing value)"
            )
    return Table(path, names, [row for _, row in records], [line for line, _ in records])


def check_header(path: Path, names: list[str]) -> None:
    """Refuse unnamed and repeated column names."""
    for index, name in enumerate(names):
        if not name:
            raise DataError(f"{path}: column {index + 1} of the header has no name; give every column its name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: the header repeats {repeated}; give every column its own name")


def numbers_of(table: Table, columns: list[int]) -> np.ndarray:
    """``[rows, len(columns)]`` float64 of those columns; NA marks (and empty cells) become NaN.

    Refused: text that is not a number, and inf (mark a missing value as empty or NA instead).
    """
    if not table.rows:
        return np.zeros((0, len(columns)))
    cells = np.char.strip(np.asarray([[row[i] for i in columns] for row in table.rows], dtype=str))
    missing = np.isin(np.char.lower(cells), NA_MARKERS)
    try:
        values = np.where(missing, "nan", cells).astype(np.float64)
    except ValueError:
        refuse_cell(table, columns, cells, first_non_number(cells, missing))
    infinite = np.argwhere(np.isinf(values))
    if len(infinite):
        refuse_cell(table, columns, cells, (int(infinite[0][0]), int(infinite[0][1])))
    return values


def refuse_cell(table: Table, columns: list[int], cells: np.ndarray, where: tuple[int, int]) -> NoReturn:
    row, col = where
    cell = str(cells[row, col])
    decimal_comma = " with a decimal point (1.5, not 1,5)" if "," in cell else ""
    raise DataError(
        f"{table.path}, line {table.lines[row]}, column {table.header[columns[col]]!r}: {cell!r} is not a number; "
        f"write a number{decimal_comma}, or leave the cell empty (or NA) when the value is missing"
    )


def is_number(cell: str) -> bool:
    """True for a finite number as numpy reads it."""
    try:
        return bool(np.isfinite(np.asarray(cell).astype(np.float64)))
    except ValueError:
        return False


def first_non_number(cells: np.ndarray, missing: np.ndarray) -> tuple[int, int]:
    """``(row, column)`` of the first cell, row by row, that is neither an NA mark nor a finite number."""
    for row, col in np.argwhere(~missing):
        if not is_number(cells[row, col]):
            return int(row), int(col)
    raise AssertionError("first_non_number: every cell is a number")
