"""One typed config, loaded from configs/*.yaml.

Steps: read YAML -> apply RAG_<SECTION>__<KEY> environment overrides ->
check every key and type against the dataclasses below -> resolve relative
paths against the project root. Unknown keys are errors, never ignored.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from rag.errors import ConfigError
from rag.reader.weights import DEFAULT_READER  # light: the reader's name, no model code

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PACKAGE_ROOT / "configs" / "default.yaml"


DEFAULT_REFUSAL = "文中没有提到相关内容。"  # answer.refusal_text unless configured


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str = "intfloat/multilingual-e5-small"
    cache_dir: str = "models"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "bfloat16-weights"] = "auto"  # auto: measured
    batch_size: int | None = None  # None: the size measured fastest on this machine
    max_seq_length: int = 512
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_chars: int = 500
    overlap_sentences: int = 1
    max_sentence_chars: int = 200


@dataclass(frozen=True)
class MilvusConfig:
    uri: str = "index/milvus.db"  # a file path: milvus-lite; http://host:19530: a server or cluster
    token: str | None = None  # "user:password" or an API key; or set RAG_INDEX__MILVUS__TOKEN
    collection: str | None = None  # None: rag_zh_<index.name>
    timeout_s: float = 10.0


@dataclass(frozen=True)
class IndexConfig:
    root: str = "index"
    name: str = "default"
    corpus: str = "data/corpus"
    uploads: str = "data/uploads"
    dense: Literal["flat", "ivf", "hnsw"] = "flat"
    ivf_nlist: int = 256
    hnsw_m: int = 32
    lexical_tokenizer: Literal["jieba", "bigram"] = "jieba"
    max_file_bytes: int = 50_000_000
    backend: Literal["faiss", "milvus"] = "faiss"
    milvus: MilvusConfig = field(default_factory=MilvusConfig)

    @property
    def path(self) -> Path:
        return Path(self.root) / self.name

    def sources(self) -> list[Path]:
        """The folders a default build indexes: the corpus, plus uploads once there are any."""
        return [p for p in (Path(self.corpus), Path(self.uploads)) if p.exists()]


@dataclass(frozen=True)
class RetrievalConfig:
    top_k: int = 5
    dense_k: int = 30
    lexical_k: int = 30
    rrf_k: int = 10
    dense_weight: float = 0.7
    lexical_weight: float = 1.0
    reranker: str | None = None


@dataclass(frozen=True)
class AnswerConfig:
    candidate_passages: int = 5
    max_sentences: int = 3
    max_question_chars: int = 500
    sentence_weight_dense: float = 0.7
    sentence_weight_lexical: float = 0.3
    refuse_below: float = 0.73
    keep_ratio: float = 0.9
    refusal_text: str = DEFAULT_REFUSAL
    reader: str | None = DEFAULT_READER  # a folder under rag/weights/, a path, or null (sentences only)
    reader_windows: int = 4  # best hand-scored sentences whose windows the reader reads
    # how the reader runs; None: as embedding.dtype. int8 (rag/runtime/int8.py): the reader's
    # alone and only when named here, never measured into (it costs accuracy, see reader.py)
    reader_dtype: Literal["auto", "float32", "bfloat16", "bfloat16-weights", "int8"] | None = None


@dataclass(frozen=True)
class GenerationConfig:
    backend: Literal["extractive", "transformers", "openai"] = "extractive"
    model: str | None = None  # transformers: folder or cached HF id; openai: the served model name
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    base_url: str | None = None  # openai: e.g. http://127.0.0.1:8000/v1
    api_key: str | None = None  # openai: or the OPENAI_API_KEY environment variable
    timeout_s: float = 60.0
    support_threshold: float = 0.35  # share of a claim's bigrams passage n must hold


@dataclass(frozen=True)
class UIConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    username: str | None = None
    password: str | None = None
    max_upload_bytes: int = 20_000_000
    feedback_path: str = "data/feedback.jsonl"  # 👍/👎 on the page, one JSON line per click
    stream_delay_ms: int = 20  # pause between streamed updates, so the answer visibly grows


@dataclass(frozen=True)
class Config:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    source: str = "<defaults>"

    @classmethod
    def load(cls, path: str | Path | None = None, *, env: bool = True) -> Config:
        """Load `path` (default: configs/default.yaml), then RAG_* overrides."""
        path = Path(path) if path is not None else DEFAULT_CONFIG
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        if env:
            _apply_env(raw, os.environ)
        config = from_dict(raw, source=str(path))
        return config.resolve_paths(_project_root(path))

    def resolve_paths(self, root: Path) -> Config:
        """Make relative paths absolute against `root`; a model id stays an id."""

        def absolute(value: str) -> str:
            p = Path(value).expanduser()
            return str(p if p.is_absolute() else (root / p).resolve())

        model = self.embedding.model
        if model.startswith((".", "/", "~")):
            model = absolute(model)
        return dataclasses.replace(
            self,
            embedding=dataclasses.replace(
                self.embedding, model=model, cache_dir=absolute(self.embedding.cache_dir)
            ),
            index=dataclasses.replace(
                self.index,
                root=absolute(self.index.root),
                corpus=absolute(self.index.corpus),
                uploads=absolute(self.index.uploads),
                milvus=dataclasses.replace(self.index.milvus,
                                           uri=_milvus_uri(self.index.milvus.uri, absolute)),
            ),
            ui=dataclasses.replace(self.ui, feedback_path=absolute(self.ui.feedback_path)),
        )

    @property
    def reader_dtype(self) -> str:
        """How the reader runs: answer.reader_dtype, or embedding.dtype when that is null."""
        return self.answer.reader_dtype or self.embedding.dtype

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some keys changed: cfg.replace(retrieval={"top_k": 8})."""
        updated = {}
        for name, changes in sections.items():
            current = getattr(self, name, None)
            if not dataclasses.is_dataclass(current):
                raise ConfigError(f"unknown config section {name!r}; valid: {_section_names()}")
            _check_keys(type(current), changes, f"section {name!r}", self.source)
            changes = {k: dataclasses.replace(getattr(current, k), **v)  # a sub-section: {"milvus": {...}}
                       if isinstance(v, dict) and dataclasses.is_dataclass(getattr(current, k)) else v
                       for k, v in changes.items()}
            updated[name] = dataclasses.replace(current, **changes)
        return dataclasses.replace(self, **updated)


def is_lite_uri(uri: str) -> bool:
    """True for a milvus-lite file path; False for a server address (http://, tcp://, unix:…)."""
    return "://" not in uri and not uri.startswith("unix:")


def _milvus_uri(uri: str, absolute: typing.Callable[[str], str]) -> str:
    """A milvus-lite file path made absolute; a server address kept as it is."""
    return absolute(uri) if is_lite_uri(uri) else uri


def _project_root(config_path: Path) -> Path:
    folder = config_path.resolve().parent
    return folder.parent if folder.name == "configs" else folder


def _section_names() -> list[str]:
    return [f.name for f in fields(Config) if f.name != "source"]


def _check_keys(cls: type, data: dict[str, Any], where: str, source: str) -> None:
    valid = [f.name for f in fields(cls)]
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"{source}: unknown key {key!r} in {where}; valid keys: {', '.join(valid)}"
            )


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> Config:
    """Build a Config from plain data, checking every key and type."""
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Config)
    for name, body in raw.items():
        if name not in _section_names():
            raise ConfigError(
                f"{source}: unknown section {name!r}; valid sections: {', '.join(_section_names())}"
            )
        body = body or {}
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: section {name!r} must be a mapping, got {body!r}")
        sections[name] = _build(hints[name], body, name, source)
    return Config(**sections, source=source)


def _build(cls: type, body: dict[str, Any], where: str, source: str) -> Any:
    """A config dataclass from a mapping, every key and type checked (sub-sections too)."""
    _check_keys(cls, body, f"section {where!r}", source)
    field_types = typing.get_type_hints(cls)
    values = {}
    for key, value in body.items():
        annotation = field_types[key]
        if dataclasses.is_dataclass(annotation):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {where}.{key} must be a mapping, got {value!r}")
            values[key] = _build(annotation, value, f"{where}.{key}", source)  # type: ignore[arg-type]
        else:
            values[key] = _coerce(value, annotation, f"{where}.{key}", source)
    return cls(**values)


def _coerce(value: Any, annotation: Any, key: str, source: str) -> Any:
    """Check `value` against a field's type; accept ints for floats."""
    if isinstance(value, _EnvText):
        # An environment override: text for str fields, a YAML scalar otherwise.
        wants_text = annotation is str or str in typing.get_args(annotation)
        value = str(value) if wants_text and value.lower() not in ("null", "~") else (
            yaml.safe_load(value) if value else None
        )
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise ConfigError(
                f"{source}: {key} = {value!r} is not valid; valid values: {', '.join(choices)}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        if typing.get_origin(annotation) is Literal:
            return _coerce(value, annotation, key, source)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool) or not isinstance(value, annotation):
        raise ConfigError(
            f"{source}: {key} must be {annotation.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _apply_env(raw: dict[str, Any], environ: typing.Mapping[str, str]) -> None:
    """RAG_SECTION__KEY=value overrides; typed later against the field."""
    for name, text in environ.items():
        if not name.startswith("RAG_") or "__" not in name:
            continue
        section, _, key = name[4:].lower().partition("__")
        if section not in _section_names():
            continue  # another program's RAG_* variable; an unknown key in a known section is an error
        target = raw
        *parents, key = [section, *key.split("__")]  # RAG_INDEX__MILVUS__URI -> index.milvus.uri
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[key] = _EnvText(text)


class _EnvText(str):
    """Marks a value that came from the environment, still unparsed."""
