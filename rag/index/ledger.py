"""What an index held, kept beside it, so a lost index is never silently replaced.

    <root>/.<name>.sources.json   the sources of the last successful build

When the index folder is gone, `Pipeline` would build the bundled corpus on first
use. `first_build_blocker` says why it must not: an interrupted build's vectors
are waiting, or the ledger names documents that the default folders do not hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path


def ledger_path(link: Path) -> Path:
    return link.parent / f".{link.name}.sources.json"


def write_ledger(link: Path, sources: Sequence[str]) -> None:
    path = ledger_path(link)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sorted(sources), ensure_ascii=False, indent=0), "utf-8")
    os.replace(tmp, path)


def read_ledger(link: Path) -> list[str]:
    try:
        data = json.loads(ledger_path(link).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [s for s in data if isinstance(s, str)] if isinstance(data, list) else []


def clear_ledger(link: Path) -> None:
    ledger_path(link).unlink(missing_ok=True)


def first_build_blocker(link: Path, default_sources: Sequence[Path]) -> str | None:
    """Why the missing index at `link` must not be rebuilt from `default_sources`, or None."""
    for folder in sorted(link.parent.glob(f".resume-{link.name}-*")):
        if folder.is_dir() and any(folder.iterdir()):
            return (f"no index at {link}, but an interrupted build left its vectors in {folder}; "
                    "finish it by running the same `rag index build PATH…` again (or delete that folder "
                    "to start over)")
    roots = [Path(p).resolve() for p in default_sources]
    others = [s for s in read_ledger(link) if not any(_under(Path(s).resolve(), r) for r in roots)]
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        return (f"no index at {link}, but it held documents from outside the default folders ({shown}); "
                f"rebuild it with `rag index build` and those paths, so they are not lost")
    return None


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
