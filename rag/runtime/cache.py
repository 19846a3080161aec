"""Measured runtime choices, kept in one JSON file per models folder.

    {"format": "rag-zh runtime choices", "version": 1,
     "entries": {"<machine key>/<model>/<shape>": {"best": ..., "median_ms": ..., ...}}}

An entry is found only under the key of the machine asking, so a choice measured
on another CPU or with other library versions is never used: that machine simply
measures again and adds its own entry. A broken or foreign file is set aside
(logged) and rewritten; writes go to a temporary file that replaces the old one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from rag.runtime.measure import Measured

log = logging.getLogger(__name__)
FORMAT = "rag-zh runtime choices"
VERSION = 1
_lock = threading.Lock()


class ChoiceCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def get(self, key: str) -> Measured | None:
        entry = self._entries().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return Measured(**entry)
        except TypeError:
            log.warning("ignoring a malformed runtime choice %s in %s", key, self.path)
            return None

    def put(self, key: str, measured: Measured) -> None:
        with _lock:
            entries = self._entries()
            entries[key] = dataclasses.asdict(measured)
            body = {"format": FORMAT, "version": VERSION, "entries": entries}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".runtime-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(body, f, ensure_ascii=False, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def _entries(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable runtime choices %s (%s); measuring again", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            log.warning("ignoring %s: not a version-%d rag-zh runtime file; measuring again",
                        self.path, VERSION)
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}
