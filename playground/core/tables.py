"""Tables: CSV/TSV files read with the csv module, the target's task inferred, the features encoded."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .errors import DataError

MAX_TABLE_BYTES = 32 * 2**20   # ~a million rows; every cell is a Python string while read, ~10x the file
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})   # how spreadsheets and R write a gap
CLASS_LIMIT = 20         # a whole-number target with at most this many values is a class label (0-9, 1-5 stars)
MAX_CATEGORIES = 100     # a text column with more values is a name or an id, not a category to one-hot
NUMERIC_SHARE = 0.9      # a column this much numbers is numeric: its other cells are typos, said as such
DELIMITERS = (",", ";", "\t")
_SAMPLE = 64 * 1024      # bytes the delimiter and header are guessed from
_SAMPLE_ROWS = 50


@dataclass(frozen=True)
class Table:
    """A file's cells as text, every row as wide as the first."""

    path: Path
    names: tuple[str, ...]             # column names: the header's, or "column 0", "column 1", ...
    rows: tuple[tuple[str, ...], ...]  # without the header
    delimiter: str
    header: bool

    def row_number(self, i: int) -> int:
        """Row `i` of `rows` as a spreadsheet numbers it (from 1, the header included)."""
        return i + 1 + self.header

    def column(self, j: int) -> str:
        return f"column {self.names[j]!r}" if self.header else f"column {j}"


@dataclass(frozen=True)
class TablePlan:
    """What a table gives, decided from all its rows: the inputs and the target, before any split."""

    target: int                        # column index
    task: str                          # "classification" | "regression"
    class_names: tuple[str, ...]       # () for regression
    numeric: tuple[int, ...]           # feature columns standardised
    categorical: tuple[tuple[int, tuple[str, ...]], ...]   # feature columns one-hot: (column, categories)
    feature_names: tuple[str, ...]     # one per input value: "bill_length_mm", "island=Biscoe"


# --- reading -----------------------------------------------------------------------------------


def read_table(path: str | Path, delimiter: str = "auto", header: str = "auto") -> Table:
    """Read `path` (UTF-8, or UTF-16/32 with a BOM) into cells; a DataError says in one sentence what is wrong."""
    from .files import read_limited
    from .spec import decode_text

    path = Path(path)
    data = read_limited(path, MAX_TABLE_BYTES, "a table", DataError)
    if not data.strip():
        raise DataError(f"{path} is empty: a table needs one row per sample and one column per feature")
    try:
        text = decode_text(data)
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (byte {e.start} is not): save it as UTF-8 CSV") from None
    if "\x00" in text:
        raise DataError(f"{path} is not a text table: it holds NUL characters, as binary files do")
    sep = _sniff_delimiter(path, text) if delimiter == "auto" else delimiter
    rows = _parse(path, text, sep)
    if not rows:
        raise DataError(f"{path} holds no rows: a table needs one row per sample and one column per feature")
    width = len(rows[0])
    if width < 2:
        hint = (f"no {_say(sep)} separates its cells: set delimiter to 'auto' or to the one it uses"
                if delimiter != "auto" else "its cells must be separated by commas, semicolons or tabs")
        raise DataError(f"{path} has only one column, and a table needs a feature and a target — {hint}")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(
                f"row {i + 1} of {path} has {len(row)} cells but row 1 has {width}: fix that row "
                f"(a missing or extra {_say(sep)}, or one inside a cell without quotes)"
            )
    has_header = _has_header(rows, sep) if header == "auto" else header == "yes"
    if has_header:
        names = tuple(name or f"column {j}" for j, name in enumerate(rows[0]))
        repeated = next((n for n in names if names.count(n) > 1), None)
        if repeated is not None:
            raise DataError(f"{path} names two columns {repeated!r}: give each column its own name")
        rows = rows[1:]
    else:
        names = tuple(f"column {j}" for j in range(width))
    if not rows:
        raise DataError(f"{path} has a header but no rows below it: add one row per sample")
    return Table(path, names, tuple(rows), sep, has_header)


def _say(sep: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(sep, repr(sep))


def _parse(path: Path, text: str, sep: str) -> list[tuple[str, ...]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows = []
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):   # blank lines are no samples
                rows.append(tuple(cell.strip() for cell in row))
    except csv.Error as e:
        raise DataError(f"{path} cannot be read as a table at line {reader.line_num}: {e}") from None
    return rows


def _sniff_delimiter(path: Path, text: str) -> str:
    """The delimiter that splits the first rows into equally many cells, more than one: tab, then
    semicolon, then comma on a tie (a file with decimal commas splits on both, and means semicolons)."""
    sample = text[:_SAMPLE]
    if len(text) > _SAMPLE:
        sample = sample[: sample.rfind("\n") + 1] or sample   # no half row at the end
    for sep in reversed(DELIMITERS):
        try:
            widths = {len(r) for r in _parse(path, sample, sep)[:_SAMPLE_ROWS]}
        except DataError:
            continue
        if len(widths) == 1 and widths.pop() > 1:
            return sep
    # no delimiter splits every row alike: the one that splits the first row most, so the row
    # that differs is named in the message
    first = sample.splitlines()[0] if sample.splitlines() else ""
    return max(DELIMITERS, key=lambda s: (first.count(s), s == ","))


def number(cell: str, sep: str) -> float | None:
    """The cell as a number, or None when it is text. A decimal comma counts where commas don't separate."""
    try:
        return float(cell)
    except ValueError:
        pass
    if sep != "," and cell.count(",") == 1 and "." not in cell:
        try:
            return float(cell.replace(",", "."))
        except ValueError:
            return None
    return None


def is_missing(cell: str) -> bool:
    return cell.lower() in MISSING


def _has_header(rows: list[tuple[str, ...]], sep: str) -> bool:
    """A header when some column is numbers below a first cell that is text, or, in an all-text
    table, when no first-row cell appears again in its column."""
    first, rest = rows[0], rows[1 : 1 + _SAMPLE_ROWS]
    if not rest:
        return all(number(c, sep) is None and not is_missing(c) for c in first)
    for j, cell in enumerate(first):
        below = [r[j] for r in rest if not is_missing(r[j])]
        if number(cell, sep) is None and not is_missing(cell) and below and \
                all(number(c, sep) is not None for c in below):
            return True
    if any(number(c, sep) is not None or is_missing(c) for c in first):
        return False
    return all(cell not in {r[j] for r in rest} for j, cell in enumerate(first))


# --- deciding what the columns are ---------------------------------------------------------------


def column_index(table: Table, name: str, what: str) -> int:
    """A column by its name, or its index from 0 (negative from the end)."""
    if name in table.names:
        return table.names.index(name)
    try:
        j = int(name)
    except ValueError:
        shown = ", ".join(repr(n) for n in table.names[:12])
        raise DataError(f"{table.path} has no column {name!r} for {what} (its columns: {shown})") from None
    width = len(table.names)
    if not -width <= j < width:
        raise DataError(f"{table.path} has {width} columns (0 to {width - 1}); {what} {j} is not one of them")
    return j % width


def plan_table(table: Table, target: str = "", task: str = "auto", ignore: str = "") -> TablePlan:
    """Decide the target's task and classes and how each feature column is encoded; every cell that
    cannot be used is named with its row and column."""
    t = column_index(table, target, "the target") if target else len(table.names) - 1
    left_out = {column_index(table, n.strip(), "ignore") for n in ignore.split(",") if n.strip()}
    if t in left_out:
        raise DataError(f"{table.column(t)} of {table.path} is the target and cannot also be ignored")
    features = [j for j in range(len(table.names)) if j != t and j not in left_out]
    if not features:
        raise DataError(f"{table.path} has no column left to learn from besides the target {table.column(t)}")
    numeric, categorical, names = [], [], []
    for j in features:
        values = _column(table, j)
        if values is not None:
            numeric.append(j)
            names.append(table.names[j])
        else:
            cats = tuple(sorted(set(r[j] for r in table.rows)))
            if len(cats) > MAX_CATEGORIES:
                raise DataError(
                    f"{table.column(j)} of {table.path} holds {len(cats)} different texts, too many to "
                    f"encode as categories (at most {MAX_CATEGORIES}): leave it out with ignore"
                )
            categorical.append((j, cats))
            names.extend(f"{table.names[j]}={c}" for c in cats)
    task, classes = _target(table, t, task)
    return TablePlan(t, task, classes, tuple(numeric), tuple(categorical), tuple(names))


def _column(table: Table, j: int) -> list[float] | None:
    """The column's numbers, or None for a text column; a gap or a stray text in a numeric column is an error."""
    sep = table.delimiter
    for i, row in enumerate(table.rows):
        if is_missing(row[j]):
            raise DataError(
                f"row {table.row_number(i)}, {table.column(j)} of {table.path} has no value "
                f"({row[j]!r}): fill it in, delete the row, or leave the column out with ignore"
            )
    values = [number(r[j], sep) for r in table.rows]
    found = sum(v is not None for v in values)
    if found < NUMERIC_SHARE * len(values):
        return None
    for i, v in enumerate(values):
        if v is None:
            raise DataError(
                f"row {table.row_number(i)}, {table.column(j)} of {table.path} holds "
                f"{table.rows[i][j]!r} where the column's other cells are numbers: correct it or delete the row"
            )
        if not math.isfinite(v):
            raise DataError(f"row {table.row_number(i)}, {table.column(j)} of {table.path} holds "
                            f"{table.rows[i][j]!r}, not a finite number: correct it or delete the row")
    return values


def _target(table: Table, t: int, task: str) -> tuple[str, tuple[str, ...]]:
    values = _column(table, t)
    if task == "auto":
        whole = values is not None and all(v.is_integer() for v in values)
        task = "regression" if values is not None and not (whole and len(set(values)) <= CLASS_LIMIT) \
            else "classification"
    if task == "regression":
        if values is None:
            raise DataError(f"the target {table.column(t)} of {table.path} holds text, and regression needs "
                            "numbers: set task to classification or choose another target")
        return task, ()
    if values is None:
        classes = tuple(sorted(set(r[t] for r in table.rows)))
    else:   # numbers as labels: in numeric order, each named as first written
        first: dict[float, str] = {}
        for v, r in zip(values, table.rows):
            first.setdefault(v, r[t])
        classes = tuple(first[v] for v in sorted(first))
    if len(classes) < 2:
        raise DataError(
            f"the target {table.column(t)} of {table.path} holds one value ({classes[0]!r}) in all "
            f"{len(table.rows)} rows: a classifier needs at least two classes"
        )
    return task, classes


# --- encoding ------------------------------------------------------------------------------------


def encode(table: Table, plan: TablePlan, train: Tensor) -> tuple[Tensor, Tensor]:
    """(x, y) for every row: numeric features standardised with the mean and standard deviation of
    the rows `train` only (so validation tells how the model does on unseen data), categories one-hot;
    y the class index (int64), or the value (float32, shape (n, 1)) for regression."""
    sep = table.delimiter
    n = len(table.rows)
    blocks: dict[int, Tensor] = {}   # by column: the inputs keep the file's column order
    if plan.numeric:
        num = torch.tensor([[number(r[j], sep) for j in plan.numeric] for r in table.rows],
                           dtype=torch.float64).view(n, len(plan.numeric))
        seen = num[train] if len(train) else num
        mean = seen.mean(0)
        std = seen.std(0, correction=0)          # as sklearn's StandardScaler
        std = torch.where(std > 0, std, torch.ones_like(std))   # a constant column stays 0, not NaN
        scaled = ((num - mean) / std).float()
        blocks.update((j, scaled[:, k : k + 1]) for k, j in enumerate(plan.numeric))
    for j, cats in plan.categorical:
        index = {c: k for k, c in enumerate(cats)}
        codes = torch.tensor([index[r[j]] for r in table.rows], dtype=torch.long)
        blocks[j] = torch.nn.functional.one_hot(codes, len(cats)).float()
    parts = [blocks[j] for j in sorted(blocks)]
    x = torch.cat(parts, 1)
    t = plan.target
    if plan.task == "regression":
        y = torch.tensor([number(r[t], sep) for r in table.rows], dtype=torch.float32).view(n, 1)
    else:
        labels = [r[t] for r in table.rows]
        if plan.class_names and number(plan.class_names[0], sep) is not None and \
                all(number(c, sep) is not None for c in plan.class_names):
            index = {number(c, sep): k for k, c in enumerate(plan.class_names)}
            y = torch.tensor([index[number(v, sep)] for v in labels], dtype=torch.long)
        else:
            index = {c: k for k, c in enumerate(plan.class_names)}
            y = torch.tensor([index[v] for v in labels], dtype=torch.long)
    return x, y


# --- a small cache: describing the data (every edit in the window) needn't re-read the file ------

_CACHE: dict[tuple, tuple[Table, TablePlan]] = {}
_CACHE_SIZE = 4


def planned(path: str | Path, delimiter: str, header: str, target: str, task: str,
            ignore: str) -> tuple[Table, TablePlan]:
    """The table at `path` and its plan, read again only when the file or the settings change."""
    path = Path(path)
    try:
        st = os.stat(path)
        stamp = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (str(path), None, None)   # read_table says what is wrong with it
    key = (stamp, delimiter, header, target, task, ignore)
    if key not in _CACHE:
        table = read_table(path, delimiter, header)
        plan = plan_table(table, target, task, ignore)
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (table, plan)
    return _CACHE[key]
