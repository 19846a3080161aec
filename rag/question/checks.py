"""Checks on a question before anything else sees it."""

from __future__ import annotations

from rag.errors import InvalidQuestionError


def check_question(question: object, max_chars: int) -> str:
    """The stripped question, or InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be a string, got {type(question).__name__}")
    stripped = question.strip()
    if not stripped:
        raise InvalidQuestionError("the question is empty; ask something about the documents")
    if len(stripped) > max_chars:
        raise InvalidQuestionError(
            f"the question has {len(stripped)} characters; the limit is {max_chars} "
            "(answer.max_question_chars)"
        )
    return stripped
