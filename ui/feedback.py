"""👍/👎 on answers, appended to a JSONL file (ui.feedback_path), one line per click."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from rag.types import Answer


def answer_record(answer: Answer) -> dict[str, Any]:
    """What feedback needs of an answer: small, so a long session keeps little in memory."""
    return {"question": answer.question, "answer": answer.text, "short": answer.short,
            "refused": answer.refused,
            "citations": [{"n": c.n, "source": c.source, "location": c.location, "start": c.start,
                           "end": c.end, "text": c.text} for c in answer.citations]}


class FeedbackLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any], liked: bool) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "liked": liked, **record},
                          ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
