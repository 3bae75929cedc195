"""The filter language of keyword search, evaluated in one place for every part of the index:
the subset of Chroma's ``where`` the retriever builds (``$and``, ``$eq``, ``$in``, ``$gte``,
``$lte``), turned into a mask over columns of chunk metadata."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: Chunk metadata the keyword index keeps, for the filters retrieval passes it.
FILTER_FIELDS = ("article_id", "source", "published_day")


def filter_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The filterable fields of one chunk's metadata."""
    return {k: meta[k] for k in FILTER_FIELDS if meta.get(k) is not None}


class Columns:
    """The filterable metadata of a run of chunks, one list of values per field (None where a
    chunk lacks it), each field turned into an array on first use: numbers (NaN where
    missing), or codes with the value -> code table, so that a filter is a vector operation
    (a Python test per chunk cost 145 ms a search at 100,000 chunks)."""

    def __init__(self, values: dict[str, list[Any]], size: int) -> None:
        self.values = values
        self.size = size
        self._arrays: dict[tuple[str, bool], tuple[np.ndarray, dict[Any, int]]] = {}
        self._lock = threading.Lock()

    def column(self, name: str, numeric: bool) -> tuple[np.ndarray, dict[Any, int]]:
        key = (name, numeric)
        with self._lock:  # filled on first use, by whichever question comes first
            if key not in self._arrays:
                self._arrays[key] = self._array(
                    self.values.get(name) or [None] * self.size, numeric
                )
            return self._arrays[key]

    @staticmethod
    def _array(values: list[Any], numeric: bool) -> tuple[np.ndarray, dict[Any, int]]:
        codes: dict[Any, int] = {}
        if numeric:
            column = np.array([np.nan if v is None else float(v) for v in values], np.float64)
        else:
            column = np.fromiter(
                (codes.setdefault(v, len(codes)) for v in values), np.int64, len(values)
            )
        return column, codes


def where_mask(columns: Columns, where: dict[str, Any]) -> np.ndarray:
    """Which chunks of ``columns`` pass ``where``. A chunk that lacks the field never does,
    as in Chroma."""
    if "$and" in where:
        return np.logical_and.reduce([where_mask(columns, w) for w in where["$and"]])
    ((name, cond),) = where.items()
    ((op, arg),) = cond.items() if isinstance(cond, dict) else (("$eq", cond),)
    if op in ("$gte", "$lte"):
        numbers, _ = columns.column(name, numeric=True)
        with np.errstate(invalid="ignore"):
            return numbers >= arg if op == "$gte" else numbers <= arg
    column, codes = columns.column(name, numeric=False)
    if op == "$in":
        return np.isin(column, [codes[v] for v in arg if v in codes])
    if op == "$eq":
        return column == codes.get(arg, -1)
    raise ValueError(f"unsupported filter operator {op}")
