"""rag-zh: grounded, cited answers to Chinese questions about Chinese documents.

    import rag
    a = rag.answer("全省脱贫攻坚推进会在哪里召开？")
    a.text, a.refused, a.citations, a.passages

Nothing heavy is imported here: models load on first use.
"""

from __future__ import annotations

from rag.config import Config
from rag.errors import InvalidQuestionError, RagError
from rag.pipeline import Pipeline, answer
from rag.types import Answer, Chunk, Citation, Document, Passage

__all__ = [
    "Answer", "Chunk", "Citation", "Config", "Document", "InvalidQuestionError", "Passage",
    "Pipeline", "RagError", "answer",
]
__version__ = "0.1.0"
