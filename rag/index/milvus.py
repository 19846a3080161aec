"""The index's chunk search on Milvus: milvus-lite (a file), a server or a cluster, one client.

One collection per index. A row is one chunk:

    id       VARCHAR primary key   the chunk's content-hash id (so an upsert is idempotent)
    doc_id   VARCHAR               the document's content hash (incremental sync, removal)
    text     VARCHAR, jieba        analyzed on the server; a BM25 function fills `sparse`
    sparse   SPARSE_FLOAT_VECTOR   BM25 index
    vector   FLOAT_VECTOR [dim]    the passage embedding, inner product (= cosine)

The collection's properties carry a versioned manifest (embedding model, dim, chunker),
so a collection built by another model or chunker, or by someone else, is refused.
Dense and BM25 hits come back as two ranked lists that `rag.retrieve` fuses by rank:
milvus-lite returns BM25 scores negated, so raw scores are never compared.
The texts, sentences and vectors stay in the index folder, as on the faiss backend,
which is what lets a sync re-fill a collection without embedding anything again.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import IndexConfig, is_lite_uri
from rag.errors import ConfigError, IndexBackendError, IndexCorruptError, IndexMismatchError, RagError
from rag.index.backends import Backend
from rag.index.milvus_search import MilvusSearch
from rag.index.search import ChunkSearch

if TYPE_CHECKING:
    from rag.index.store import IndexData

log = logging.getLogger(__name__)
FORMAT = "rag-zh-milvus"
VERSION = 1
PROPERTY = "rag_zh.manifest"
BATCH = 1000  # rows per upsert call
MAX_TEXT_BYTES = 65535  # Milvus VARCHAR limit
# A channel of our own (see client()), and no keepalive pings while idle: milvus-lite's gRPC
# server answers them with GOAWAY "too_many_pings", which drops the connection.
FRESH_CHANNEL = {"grpc.use_local_subchannel_pool": 1, "grpc.keepalive_permit_without_calls": 0,
                 "grpc.keepalive_time_ms": 120_000}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SCHEMES = ("http://", "https://", "tcp://", "unix:")
LITE_CHECK = ("a milvus-lite file is open in one process at a time: is another rag process (serve or "
              "index build) using it? To share one index, run `milvus-lite server --data-dir DIR --host "
              "127.0.0.1 --port 19530` and set index.milvus.uri to http://127.0.0.1:19530")
CHECK = ("check that Milvus is running and reachable at this URI, and that index.milvus.token "
         "(or RAG_INDEX__MILVUS__TOKEN) is right")


class MilvusBackend(Backend):
    kind = "milvus"

    def __init__(self, uri: str, collection: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        if not uri:
            raise ConfigError("index.milvus.uri is empty; give a file path ending in .db (milvus-lite) "
                              "or a server address such as http://localhost:19530")
        if "://" in uri and not uri.startswith(_SCHEMES):
            raise ConfigError(f"index.milvus.uri {uri!r} has an unknown scheme; valid: {', '.join(_SCHEMES)}")
        if is_lite_uri(uri) and not uri.endswith(".db"):
            raise ConfigError(f"index.milvus.uri {uri!r}: a milvus-lite path must end in .db "
                              "(or give a server address such as http://localhost:19530)")
        if not _NAME.fullmatch(collection):
            raise ConfigError(f"index.milvus.collection {collection!r} is not a valid Milvus name: "
                              "a letter or _, then letters, digits or _ (at most 255)")
        if timeout_s <= 0:
            raise ConfigError(f"index.milvus.timeout_s must be > 0, got {timeout_s!r}")
        self.uri, self.collection, self.token, self.timeout_s = uri, collection, token, timeout_s
        self._client: Any = None

    @classmethod
    def from_config(cls, config: IndexConfig) -> MilvusBackend:
        m = config.milvus
        name = m.collection or "rag_zh_" + re.sub(r"\W", "_", config.name, flags=re.ASCII)
        return cls(m.uri, name, m.token, m.timeout_s)

    @property
    def is_lite(self) -> bool:
        return is_lite_uri(self.uri)

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri, "collection": self.collection}

    # -- the connection ---------------------------------------------------------
    @contextmanager
    def calls(self, what: str) -> Iterator[None]:
        """Turn whatever the client raises into an IndexBackendError naming the URI."""
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except RagError:
            raise
        except (MilvusException, grpc.RpcError, OSError, RuntimeError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise IndexBackendError(f"Milvus at {self.uri}: {what} failed ({message}); "
                                    f"{LITE_CHECK if self.is_lite else CHECK}") from exc

    def client(self) -> Any:
        if self._client is None:
            try:
                from pymilvus import MilvusClient
            except ImportError as exc:
                raise ConfigError("index.backend: milvus needs pymilvus and milvus-lite; install them with "
                                  "pip install -e '.[milvus]' (make setup does)") from exc

            # pymilvus logs each failed call with its traceback; we raise one clear error instead
            for name in ("pymilvus", "milvus_lite"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            if self.is_lite:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            # Tried until timeout_s, on a channel of our own: gRPC's shared subchannels keep backing
            # off (for minutes) from an address that once refused, even after the server is back.
            deadline = time.monotonic() + self.timeout_s
            while self._client is None:
                try:
                    with self.calls("connecting"):
                        client = MilvusClient(uri=self.uri, token=self.token or "", timeout=self.timeout_s,
                                              dedicated=True, grpc_options=FRESH_CHANNEL)
                        client.list_collections(timeout=self.timeout_s)  # a wrong token fails here
                    self._client = client
                except IndexBackendError as exc:
                    if time.monotonic() > deadline or _refused_for_auth(exc):
                        raise
                    time.sleep(0.5)
        return self._client

    def ping(self) -> None:
        self.client()

    # -- the collection -----------------------------------------------------------
    def _manifest(self, data: IndexData) -> dict[str, Any]:
        e = data.manifest["embedding"]
        return {"format": FORMAT, "version": VERSION, "embedding": {"model": e["model"], "dim": e["dim"]},
                "chunker": data.manifest["chunker"], "analyzer": "jieba"}

    def _ensure(self, data: IndexData) -> bool:
        """Create the collection if missing (True) or check that it is ours and fits `data`."""
        c = self.client()
        with self.calls(f"opening collection {self.collection}"):
            exists = c.has_collection(self.collection, timeout=self.timeout_s)
            if not exists:
                self._create(data)
            else:
                self._check(data)
            c.load_collection(self.collection, timeout=self.timeout_s)  # needed after every reopen
        return not exists

    def _create(self, data: IndexData) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client()
        schema = c.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True,
                         analyzer_params={"tokenizer": "jieba"})  # all milvus-lite takes besides standard
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(data.manifest["embedding"]["dim"]))
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        indexes = c.prepare_index_params()
        indexes.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection(self.collection, schema=schema, index_params=indexes, timeout=self.timeout_s,
                            properties={PROPERTY: json.dumps(self._manifest(data), ensure_ascii=False)})

    def _check(self, data: IndexData) -> None:
        """Refuse a collection that is not ours, or was built for another model, dim or chunker."""
        info = self.client().describe_collection(self.collection, timeout=self.timeout_s)
        where = f"collection {self.collection} at {self.uri}"
        fields = {f["name"]: f for f in info.get("fields", [])}
        try:
            have = json.loads((info.get("properties") or {})[PROPERTY])
        except (KeyError, TypeError, ValueError):
            raise IndexMismatchError(
                f"{where} was not created by rag-zh (fields: {', '.join(fields) or 'none'}); "
                "set index.milvus.collection to another name, or drop that collection") from None
        want = self._manifest(data)
        dim = (fields.get("vector") or {}).get("params", {}).get("dim")
        if have.get("format") != FORMAT or have.get("version") != VERSION:
            raise IndexMismatchError(f"{where} has format {have.get('format')!r} v{have.get('version')!r}; "
                                     f"rag-zh writes {FORMAT} v{VERSION}; drop it or use another collection")
        diffs = [f"{k}: collection has {have.get(k)!r}, index wants {want[k]!r}"
                 for k in ("embedding", "chunker") if have.get(k) != want[k]]
        if dim is not None and int(dim) != want["embedding"]["dim"]:
            diffs.append(f"vector dim: collection has {dim}, index wants {want['embedding']['dim']}")
        if diffs:
            raise IndexMismatchError(f"{where} was built with other settings:\n  " + "\n  ".join(diffs)
                                     + "\nDrop it (`rag index remove --all`) or set index.milvus.collection "
                                       "to another name, then run `rag index build`.")

    def flush(self) -> None:
        """Seal what was written so it is indexed: unflushed rows are searched one by one
        (in milvus-lite, 10k of them make a search take 1.6 s instead of 25 ms)."""
        with self.calls(f"flushing {self.collection}"):
            self.client().flush(self.collection, timeout=self.timeout_s * 6)

    def count(self) -> int:
        with self.calls(f"counting {self.collection}"):
            rows = self.client().query(self.collection, filter="", output_fields=["count(*)"],
                                       timeout=self.timeout_s)
        return int(rows[0]["count(*)"])

    # -- Backend -------------------------------------------------------------------
    def write(self, data: IndexData, folder: Path, previous: IndexData | None) -> None:
        """Upsert the chunks of every document the collection may lack; delete nothing yet."""
        created = self._ensure(data)
        known: set[str] = set()
        if not created and previous is not None and previous.manifest.get("backend") == self.settings():
            known = set(previous.documents)  # synced by the last build, which finished
        self._upsert(data, [i for i, ch in enumerate(data.chunks) if ch.doc_id not in known])

    def _upsert(self, data: IndexData, rows: list[int]) -> None:
        c = self.client()
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            payload = [{"id": data.chunks[i].id, "doc_id": data.chunks[i].doc_id,
                        "text": _fit(data.chunks[i].text), "vector": data.chunk_vectors[i].tolist()}
                       for i in batch]
            with self.calls(f"writing chunks {start + 1}-{start + len(batch)} of {len(rows)} "
                            f"to {self.collection}"):
                c.upsert(self.collection, payload, timeout=self.timeout_s * 6)

    def finish(self, data: IndexData) -> None:
        """Delete chunks of documents no longer indexed, then check the count (re-fill if off)."""
        n = self._prune(data)
        if n != len(data.chunks):  # rows lost or added outside our builds: upsert all, no re-embedding
            log.warning("%s holds %d chunks, the index %d: writing every chunk again", self.collection, n,
                        len(data.chunks))
            self._upsert(data, list(range(len(data.chunks))))
            if (n := self._prune(data)) != len(data.chunks):
                raise IndexCorruptError(f"collection {self.collection} at {self.uri} holds {n} chunks after "
                                        f"a full sync, the index {len(data.chunks)}; drop it and build again")

    def _prune(self, data: IndexData) -> int:
        """Delete the chunks of documents `data` does not hold, flush, and count what is left."""
        ids = json.dumps(sorted(data.documents))
        with self.calls(f"deleting removed documents from {self.collection}"):
            self.client().delete(self.collection, filter=f"doc_id not in {ids}", timeout=self.timeout_s * 6)
        self.flush()
        return self.count()

    def open(self, data: IndexData, folder: Path) -> ChunkSearch:
        c = self.client()
        with self.calls(f"opening collection {self.collection}"):
            if not c.has_collection(self.collection, timeout=self.timeout_s):
                raise IndexCorruptError(
                    f"collection {self.collection} is missing at {self.uri}; run `rag index build` to fill "
                    "it again from the index folder (nothing is re-embedded)")
            self._check(data)
            c.load_collection(self.collection, timeout=self.timeout_s)
        return MilvusSearch(self, {ch.id: i for i, ch in enumerate(data.chunks)})

    def drop(self) -> None:
        c = self.client()
        with self.calls(f"dropping collection {self.collection}"):
            if c.has_collection(self.collection, timeout=self.timeout_s):
                c.drop_collection(self.collection, timeout=self.timeout_s)


def _refused_for_auth(exc: BaseException) -> bool:
    """A wrong token or user (as the client said it, not our hint): asking again will not help."""
    text = str(exc.__cause__ or "").lower()
    return any(w in text for w in ("auth", "token", "password", "permission", "unauthenticated"))


def _fit(text: str) -> str:
    """The text cut to Milvus' VARCHAR byte limit (BM25 then sees the first 64 KB of a huge chunk)."""
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TEXT_BYTES else data[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
