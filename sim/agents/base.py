"""Columnar agent storage behind Mesa agent objects.

Each agent type keeps its state in NumPy arrays (structure of arrays). A `mesa.Agent` object
knows its slot and exposes its state as properties, so Mesa's API (`model.agents`,
`agents_by_type`, `AgentSet.select`, `agent.remove()`) keeps working while rules run on whole
arrays. Removal swaps the last slot into the freed one, so arrays stay dense.
"""
from __future__ import annotations

from typing import Any

import mesa
import numpy as np


class Columns:
    """Dense, growable arrays of one agent type's state."""

    def __init__(self, schema: dict[str, Any], capacity: int = 64):
        self.schema = {name: np.dtype(dt) for name, dt in schema.items()}
        self._data = {name: np.zeros(capacity, dtype=dt) for name, dt in self.schema.items()}
        self.owners: list[Any] = []

    def __len__(self) -> int:
        return len(self.owners)

    def __getitem__(self, name: str) -> np.ndarray:
        """Live view of one column (length = number of agents)."""
        return self._data[name][: len(self.owners)]

    def set_columns(self, **columns: np.ndarray) -> None:
        """Overwrite whole columns (each as long as the store) in one call."""
        n = len(self.owners)
        for name, values in columns.items():
            self._data[name][:n] = values

    def add(self, owner: Any, values: dict[str, Any]) -> int:
        slot = len(self.owners)
        if slot == len(next(iter(self._data.values()))):
            for name, arr in self._data.items():
                self._data[name] = np.concatenate([arr, np.zeros_like(arr)])
        for name in self.schema:
            self._data[name][slot] = values.get(name, 0)
        self.owners.append(owner)
        return slot

    def remove(self, slot: int) -> None:
        last = len(self.owners) - 1
        if slot != last:
            for arr in self._data.values():
                arr[slot] = arr[last]
            moved = self.owners[last]
            self.owners[slot] = moved
            moved.slot = slot
        self.owners.pop()


def column(name: str, doc: str = "") -> property:
    """Expose one column of the agent's store as an attribute."""

    def get(self):
        return self.store[name][self.slot].item()

    def set_(self, value):
        self.store[name][self.slot] = value

    return property(get, set_, doc=doc)


class ColumnAgent(mesa.Agent):
    """A Mesa agent whose state lives in a `Columns` store owned by the model."""

    store_name: str = ""

    def __init__(self, model: mesa.Model, **values: Any):
        super().__init__(model)
        self.store: Columns = getattr(model, self.store_name)
        self.slot = self.store.add(self, values)

    @property
    def pos(self) -> tuple[float, float] | None:
        """(x, y) in µm, or None for agents with no place in the patch."""
        return (self.store["x"][self.slot].item(), self.store["y"][self.slot].item())

    @pos.setter
    def pos(self, value) -> None:  # Mesa's Agent.__init__ assigns pos=None; positions live in the store
        pass

    def remove(self) -> None:
        self.store.remove(self.slot)
        super().remove()
