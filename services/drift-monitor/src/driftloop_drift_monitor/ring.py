"""Fixed-size ring buffers over numpy arrays: the live window of one column.

A window test reads the buffer as one ordered array; nothing is rebuilt from rows. Buffers are
copied (copy-on-write) when a handler works on a watch, so copying must stay cheap: one array
of the window's size per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Ring:
    """The last ``capacity`` values appended, oldest first when viewed."""

    __slots__ = ("_data", "_head", "_size")

    def __init__(self, capacity: int, dtype: Any) -> None:
        if capacity < 1:
            raise ValueError("a ring holds at least one value")
        self._data = np.empty(capacity, dtype=dtype)
        self._head = 0  # where the next value goes
        self._size = 0

    @property
    def capacity(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return self._size

    def extend(self, values: np.ndarray) -> None:
        """Append values in order; only the last ``capacity`` of them can stay."""
        cap = self.capacity
        if len(values) >= cap:
            self._data[:] = values[-cap:]
            self._head, self._size = 0, cap
            return
        first = min(len(values), cap - self._head)
        self._data[self._head : self._head + first] = values[:first]
        self._data[: len(values) - first] = values[first:]
        self._head = (self._head + len(values)) % cap
        self._size = min(self._size + len(values), cap)

    def view(self) -> np.ndarray:
        """The values held, oldest first (a new array)."""
        if self._size < self.capacity:
            return self._data[: self._size].copy()
        return np.concatenate((self._data[self._head :], self._data[: self._head]))

    def copy(self) -> Ring:
        other = Ring.__new__(Ring)
        other._data = self._data.copy()
        other._head = self._head
        other._size = self._size
        return other
