"""Read a CSV or XLSX file into a checked header and numbered data rows.

Row numbers are the ones a spreadsheet program shows, header included: the
header is row 1 (it is the first non-blank row), the first data row is row 2.
Blank rows are skipped but still counted, so row 7 in an error is row 7 on
screen. CSV files must be UTF-8 (a byte-order mark is fine); the delimiter is
a comma, or a semicolon or tab when the header line uses that instead. XLSX
files are read from their first sheet; formulas give their last computed value.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar, cast

from stockflow.errors import InvalidInput, Problems, StockflowError

T = TypeVar("T")

NumberedCells = tuple[int, list[object]]
"""A spreadsheet row number and the raw cells of that row."""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_LARGEST_DIGITS = 18  # numbers this long are refused before any arithmetic on them


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns a kind of file has: some must be there, the rest may be."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        """Every column, required ones first."""
        return self.required + self.optional


class Row:
    """One data row: its spreadsheet row number and its cells, read by column name.

    The cells are kept as the file gave them, with the sheet's column positions
    beside them; a cell is trimmed when it is read, and a blank one reads as None.
    """

    __slots__ = ("_at", "_values", "number")

    def __init__(
        self, number: int, cells: dict[str, object] | Sequence[object],
        at: Mapping[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.number = number
        if at is None:  # a row built by hand: cells by name
            named = dict(cells) if isinstance(cells, Mapping) else {}
            self._values: Sequence[object] = list(named.values())
            self._at: Mapping[str, int] = {name: n for n, name in enumerate(named)}
        else:
            self._values, self._at = cast(Sequence[object], cells), at

    @property
    def cells(self) -> dict[str, object]:
        """The non-blank cells, by column."""
        return {name: value for name in self._at if (value := self._cell(name)) is not None}

    def _cell(self, name: str) -> object:
        """One cell, trimmed; None when blank or absent."""
        at = self._at.get(name)
        if at is None or at >= len(self._values):
            return None
        value = self._values[at]
        if type(value) is str:
            return value.strip() or None
        return value

    def blank(self, name: str) -> bool:
        """Whether the cell is blank (or the column absent)."""
        return self._cell(name) is None

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.cells!r})"

    def text(self, name: str, *, max_length: int | None = None) -> str | None:
        """The cell as trimmed text, or None when blank."""
        value = self._cell(name)
        if value is None:
            return None
        if type(value) is not str:
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # a code typed as a number: 12345, not 12345.0
            value = str(value).strip() or None
            if value is None:
                return None
        found = value
        if max_length is not None and len(found) > max_length:
            raise self.error(name, f"is longer than {max_length} characters")
        return found

    def whole(self, name: str) -> int | None:
        """The cell as a whole number (``5`` and ``5.0`` are fine, ``5.5`` is not)."""
        number = self.decimal(name, expected="a whole number")
        if number is None:
            return None
        if number != number.to_integral_value():
            raise self.error(name, f"must be a whole number, got {self.cells[name]!r}")
        return int(number)

    def decimal(self, name: str, *, expected: str = "a number like 12.50") -> Decimal | None:
        """The cell as an exact decimal (never a float), or None when blank."""
        value = self._cell(name)
        if value is None:
            return None
        number = None
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            # repr of a float is its shortest exact spelling: 0.1 stays 0.1
            text = repr(value) if isinstance(value, float) else str(value).strip()
            with suppress(InvalidOperation):
                number = Decimal(text)
        if number is None or not number.is_finite():
            raise self.error(name, f"must be {expected}, got {value!r}")
        if number.adjusted() >= _LARGEST_DIGITS:
            raise self.error(name, f"is too large: {value!r}")
        return number

    def flag(self, name: str, *, default: bool) -> bool:
        """The cell as true/false (also yes/no and 1/0), ``default`` when blank."""
        value = self._cell(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        word = str(value).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise self.error(name, f"must be true or false (or yes/no, 1/0), got {value!r}")

    def day(self, name: str) -> date | None:
        """The cell as a date: a date cell, or text written yyyy-mm-dd."""
        value = self._cell(name)
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.time() != datetime.min.time():
                raise self.error(name, f"must be a date without a time of day, got {value}")
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value):
            with suppress(ValueError):  # 2027-02-30 matches the pattern but is no day
                return date.fromisoformat(value)
        raise self.error(name, f"must be a date written yyyy-mm-dd, got {value!r}")

    def error(self, name: str, detail: str) -> InvalidInput:
        """An ``InvalidInput`` about one cell of this row."""
        return InvalidInput(detail, field=name, row=self.number)


class Cells:
    """A row read cell by cell for a check of the whole file: a bad cell is told, not raised.

    Each reader answers None for a blank cell or a bad one; a bad one's
    problem goes to ``problems`` and ``ok`` turns False, so that the rest of
    the row, and of the file, is still checked.
    """

    __slots__ = ("ok", "problems", "row")

    def __init__(self, row: Row, problems: Problems) -> None:
        self.row = row
        self.problems = problems
        self.ok = True

    def get(self, read: Callable[[], T]) -> T | None:
        """``read()``, or None (the problem told) when it raises a ``StockflowError``."""
        try:
            return read()
        except StockflowError as exc:
            if exc.row is None:
                exc.row = self.row.number
            self.problems.add(exc)
            self.ok = False
            return None

    def bad(self, name: str, detail: str) -> None:
        """Tell a problem with one cell."""
        self.problems.add(self.row.error(name, detail))
        self.ok = False

    def text(
        self, name: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        """``Row.text``; a required blank cell is a problem."""
        try:
            value = self.row.text(name, max_length=max_length)
        except StockflowError as exc:
            self._told(exc)
            return None
        if value is None and required and self.row.blank(name):
            self.bad(name, "is required")
        return value

    def whole(self, name: str, *, required: bool = False) -> int | None:
        """``Row.whole``; a required blank cell is a problem."""
        try:
            value = self.row.whole(name)
        except StockflowError as exc:
            self._told(exc)
            return None
        if value is None and required and self.row.blank(name):
            self.bad(name, "is required")
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        """``Row.decimal``; a required blank cell is a problem."""
        try:
            value = self.row.decimal(name)
        except StockflowError as exc:
            self._told(exc)
            return None
        if value is None and required and self.row.blank(name):
            self.bad(name, "is required")
        return value

    def flag(self, name: str, *, default: bool) -> bool | None:
        """``Row.flag``."""
        try:
            return self.row.flag(name, default=default)
        except StockflowError as exc:
            self._told(exc)
            return None

    def day(self, name: str) -> date | None:
        """``Row.day``."""
        try:
            return self.row.day(name)
        except StockflowError as exc:
            self._told(exc)
            return None

    def _told(self, exc: StockflowError) -> None:
        if exc.row is None:
            exc.row = self.row.number
        self.problems.add(exc)
        self.ok = False


@dataclass(frozen=True, slots=True)
class Sheet:
    """A checked file: its name, the columns its header names, and its data rows."""

    name: str
    columns: tuple[str, ...]
    rows: list[Row]


def read_sheet(path: Path, columns: Columns, *, problems: Problems | None = None) -> Sheet:
    """Read ``path`` (.csv or .xlsx), check its header against ``columns``, number its rows.

    A problem with the file or its header is raised at once (every header
    problem together). A row with a value in a column the header does not
    name is left out and told to ``problems`` when given, else raised.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        numbered = _csv_rows(_read_bytes(path))
    elif suffix == ".xlsx":
        numbered = _xlsx_rows(path)
    else:
        raise InvalidInput(f"{path.name}: use a .csv or .xlsx file", field="file")
    header, data = _split_header(numbered)
    names = _check_header(header[1], header[0], columns)
    rows = _rows(data, names, problems, texts=suffix == ".csv")
    if not rows and not problems:
        raise InvalidInput(f"{path.name} has a header but no data rows")
    return Sheet(path.name, tuple(n for n in names if n is not None), rows)


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc.strerror}", field="file") from None


def _csv_rows(raw: bytes) -> list[NumberedCells]:
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(raw, exc) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return list(enumerate(reader, start=1))  # type: ignore[arg-type]
    except csv.Error as exc:
        raise InvalidInput(f"is not valid CSV: {exc}", row=reader.line_num) from None


def _delimiter(text: str) -> str:
    """A comma, unless the first line holds more semicolons or tabs (as some locales save)."""
    first_line = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=first_line.count)


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> InvalidInput:
    """Say in which row and column the first byte that is not UTF-8 sits."""
    before = raw[: exc.start].decode("utf-8")
    records = list(csv.reader(io.StringIO(before, newline=""), delimiter=_delimiter(before)))
    at_line_start = not before or before.endswith(("\n", "\r"))
    row = len(records) + 1 if at_line_start else len(records)
    column = 0 if at_line_start else len(records[-1]) - 1
    header = next((r for r in records[: row - 1] if any(c.strip() for c in r)), None)
    field = _normal(header[column]) if header and column < len(header) else None
    return InvalidInput(
        f"byte 0x{raw[exc.start]:02X} is not UTF-8 (line {before.count(chr(10)) + 1}); "
        "save the file as CSV UTF-8",
        field=field,
        row=row,
    )


def _xlsx_rows(path: Path) -> list[NumberedCells]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise InvalidInput(
            f"{path.name} is not a readable .xlsx file ({exc})", field="file"
        ) from None
    try:
        sheet = book.worksheets[0]
        return [
            (number, list(cells))
            for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
        ]
    finally:
        book.close()


def _split_header(numbered: list[NumberedCells]) -> tuple[NumberedCells, list[NumberedCells]]:
    """The first non-blank row is the header; the rows after it, blank ones still among them."""
    for index, (number, cells) in enumerate(numbered):
        cleaned = [_clean(c) for c in cells]
        if any(c is not None for c in cleaned):
            return (number, cleaned), numbered[index + 1 :]
    raise InvalidInput("the file is empty: the first row must name the columns")


def _check_header(cells: list[object], row: int, columns: Columns) -> list[str | None]:
    """The column each cell of the header names; every problem with it raised together."""
    names = [None if c is None else _normal(str(c)) for c in cells]
    known = columns.all()
    problems = Problems()  # in the order the header shows them
    for index, name in enumerate(names):
        if name is None:
            continue
        if name not in known:
            problems.add(
                InvalidInput(
                    f"unknown column {name!r} (column {column_letter(index)}); "
                    f"the columns are: {', '.join(known)}",
                    field=name,
                    row=row,
                )
            )
        elif names.index(name) != index:
            first, again = column_letter(names.index(name)), column_letter(index)
            problems.add(
                InvalidInput(
                    f"column {name!r} appears twice (columns {first} and {again})",
                    field=name,
                    row=row,
                )
            )
    missing = [c for c in columns.required if c not in names]
    if missing:
        problems.add(
            InvalidInput(f"missing column(s): {', '.join(missing)}", field=missing[0], row=row)
        )
    problems.raise_any()
    return names


def _rows(
    data: list[NumberedCells], names: list[str | None], problems: Problems | None, *, texts: bool
) -> list[Row]:
    """The non-blank rows after the header, each with its non-blank cells by column.

    Cells are trimmed here once. A row of text (every CSV row) whose every
    cell names a column takes the quick path; others are checked cell by cell.
    """
    width = len(names)
    at = {name: n for n, name in enumerate(names) if name is not None}
    quick = texts and None not in names
    rows: list[Row] = []
    for number, cells in data:
        if quick and len(cells) <= width:
            if not "".join(cast(list[str], cells)).strip():
                continue  # a blank row
            rows.append(Row(number, cells, at))
            continue
        cleaned = [_clean(c) for c in cells]
        if all(c is None for c in cleaned):
            continue
        try:
            rows.append(_row(number, cleaned, names, at))
        except InvalidInput as exc:
            if problems is None:
                raise
            problems.add(exc)
    return rows


def _row(number: int, cells: list[object], names: list[str | None], at: Mapping[str, int]) -> Row:
    for index, value in enumerate(cells):
        if value is not None and (index >= len(names) or names[index] is None):
            raise InvalidInput(
                f"has a value in column {column_letter(index)}, which has no name in the header",
                row=number,
            )
    return Row(number, cells, at)


def _clean(value: object) -> object:
    """Blank text is no value; other text loses surrounding spaces."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _normal(name: str) -> str:
    """Header names match loosely: ``Expires On`` and ``expires-on`` mean ``expires_on``."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())
