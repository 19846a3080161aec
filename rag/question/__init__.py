"""Questions: checks (checks.py), history and follow-ups (history.py), and terms (terms.py)."""

from __future__ import annotations

from rag.question.checks import check_question
from rag.question.history import Query, previous_answers, previous_questions, resolve_followup
from rag.question.terms import bigrams, content_terms, core

__all__ = ["Query", "bigrams", "check_question", "content_terms", "core", "previous_answers",
           "previous_questions", "resolve_followup"]
