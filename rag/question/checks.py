"""Checks on a question before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

from rag.errors import InvalidQuestionError

# Lone surrogates (undecodable bytes arrive as these, e.g. from a terminal in another
# encoding), U+FFFD from a lossy decode, and control characters other than whitespace.
_INVALID = re.compile(r"[\ud800-\udfff\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_question(text: str) -> str:
    """NFC, without characters no tokenizer can take; runs of whitespace become one space."""
    text = unicodedata.normalize("NFC", _INVALID.sub("", text))
    return re.sub(r"\s+", " ", text).strip()


def check_question(question: object, max_chars: int) -> str:
    """The cleaned question, or InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be a string, got {type(question).__name__}")
    stripped = clean_question(question)
    if not stripped:
        had = "only invalid or control characters" if question.strip() else "nothing"
        raise InvalidQuestionError(f"the question is empty (it held {had}); "
                                   "ask something about the documents")
    if len(stripped) > max_chars:
        raise InvalidQuestionError(
            f"the question has {len(stripped)} characters; the limit is {max_chars} "
            "(answer.max_question_chars)"
        )
    return stripped
