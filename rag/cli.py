"""The `rag` command. Domain errors become messages here, and nowhere else."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rag.config import Config
from rag.errors import (
    ConfigError,
    DatasetError,
    DocumentError,
    EmptyCorpusError,
    InvalidQuestionError,
    RagError,
)
from rag.types import Document

if TYPE_CHECKING:
    from rag.index.backends import Backend

USAGE_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, InvalidQuestionError, DocumentError, EmptyCorpusError, DatasetError)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn RagError into 'Error: ...' on stderr: exit 2 for bad input, 1 otherwise."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USAGE_ERRORS as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except RagError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except OSError as exc:  # a folder that is not writable, a path that is a file, a full disk
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)

    return wrapper


def _config(ctx: click.Context) -> Config:
    return Config.load(ctx.obj.get("config"))


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="RAG_CONFIG",
              help="Config file (default: configs/default.yaml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """rag-zh: grounded, cited answers to Chinese questions about your documents."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the whole Answer as JSON.")
@click.option("-k", "k", type=click.IntRange(1, 100), default=None, help="Passages to return.")
@click.pass_context
@friendly
def ask(ctx: click.Context, question: str, as_json: bool, k: int | None) -> None:
    """Answer QUESTION from the index, with citations."""
    from rag.pipeline import Pipeline

    answer = Pipeline(_config(ctx)).answer(question, k=k)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(answer.text)
    for c in answer.citations:
        span = f", 答案 {c.span_start}-{c.span_end}" if c.span_start is not None else ""
        where = f"{c.location} " if c.location else ""
        click.echo(f"  [{c.n}] {Path(c.source).name} {where}第{c.paragraph}段 第{c.sentence}句 "
                   f"({c.start}-{c.end}{span}): {c.text}")


@main.group()
def index() -> None:
    """Build, inspect or remove the index."""


@index.command("build")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--sync", is_flag=True,
              help="Index exactly PATHS: documents not under them are removed (and listed).")
@click.pass_context
@friendly
def index_build(ctx: click.Context, paths: tuple[Path, ...], sync: bool) -> None:
    """Add or update the documents under PATHS (default: the corpus and uploads folders),
    keeping every other indexed document."""
    from rag.embed import Embedder
    from rag.index.builder import IndexBuilder

    config = _config(ctx)
    embedder = Embedder(config.embedding)
    sources = list(paths) or config.index.sources()
    report = IndexBuilder(config, embedder, dim=embedder.dim).build(sources, sync=sync)
    for source, reason in report.skipped:
        click.echo(f"warning: skipped {source}: {reason}", err=True)
    for source, same in report.duplicates:
        click.echo(f"note: {source} duplicates {same}; indexed once", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report.removed:
        click.echo(f"removed (--sync): {', '.join(report.removed)}", err=True)
    click.echo(
        f"indexed {report.documents} documents ({report.chunks} chunks, {report.sentences} sentences) "
        f"into {report.path} in {report.seconds:.1f}s\n"
        f"  embedded {len(report.added)} new/changed, reused {len(report.reused)}, "
        f"resumed {len(report.resumed)}, kept {len(report.kept)} from elsewhere, "
        f"removed {len(report.removed)}; "
        f"{report.embedded_texts} texts, {report.embedded_tokens} tokens embedded"
    )


@index.command("status")
@click.pass_context
@friendly
def index_status(ctx: click.Context) -> None:
    """Show what the index holds, check every file, and exit 1 if one is damaged."""
    from rag.errors import IndexCorruptError
    from rag.index.store import REEMBED, differences, load_index, read_manifest, stored_settings

    config = _config(ctx)
    path = Path(config.index.root) / config.index.name
    manifest = read_manifest(path)
    docs = manifest["documents"]
    click.echo(f"index: {path} (format v{manifest['version']}, built {manifest.get('created')})")
    click.echo(f"embedding: {manifest['embedding'].get('model')} ({manifest['embedding']['dim']} dims)")
    click.echo(f"chunker: {manifest['chunker']}  lexical: {manifest['lexical']}")
    for key, have, want in differences(manifest, stored_settings(config)):
        redo = "re-embeds every document" if REEMBED[key] else "rebuilds the index files only"
        click.echo(f"warning: {key} changed: the index has {have!r}, the config wants {want!r}; "
                   f"`rag index build` {redo}")
    click.echo(f"{len(docs)} documents, {sum(d.get('chunks', 0) for d in docs)} chunks:")
    for d in docs:
        click.echo(f"  {d.get('id')}  {d.get('chars', 0):>8} chars  {d.get('chunks', 0):>5} chunks  "
                   f"{d.get('source')}")
    try:
        data = load_index(path, config=config.index)  # reads and checks every file, and the backend
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"the index is damaged: {exc}") from exc
    assert data.search is not None
    click.echo(f"search: {data.search.describe()}")
    click.echo("files: all present and consistent")


@index.command("remove")
@click.argument("documents", nargs=-1)
@click.option("--all", "remove_all", is_flag=True, help="Delete the whole index.")
@click.option("--yes", is_flag=True, help="Do not ask before removing more than one document.")
@click.pass_context
@friendly
def index_remove(ctx: click.Context, documents: tuple[str, ...], remove_all: bool, yes: bool) -> None:
    """Remove DOCUMENTS from the index: each by exact source, file name or id, or by an id
    prefix of at least 6 characters that only one document has. Or --all of it."""
    from rag.index.store import remove_index
    from rag.index.workdir import build_lock
    from rag.pipeline import Pipeline

    config = _config(ctx)
    path = Path(config.index.root) / config.index.name
    if remove_all:
        if documents:
            raise click.UsageError(f"--all removes the whole index; it takes no names "
                                   f"({', '.join(documents)})")
        with build_lock(path):  # never while a build is writing
            backend = _recorded_backend(path, config)
            click.echo(f"removed {path}" if remove_index(path) else f"no index at {path}")
            if backend is not None:
                backend.drop()
                where = backend.settings()
                click.echo(f"dropped collection {where['collection']} at {where['uri']}")
        return
    if not documents:
        raise click.UsageError("name documents to remove, or pass --all")
    pipeline = Pipeline(config)
    gone = match_documents(list(pipeline.index.documents.values()), documents)
    if len(gone) > 1 and not yes:
        listing = "\n".join(f"  {d.id}  {d.source}" for d in gone)
        click.confirm(f"remove these {len(gone)} documents?\n{listing}\n", abort=True)
    pipeline.builder().remove([d.id for d in gone])
    click.echo(f"removed {len(gone)} document(s): {', '.join(d.source for d in gone)}")


def _recorded_backend(path: Path, config: Config) -> Backend | None:
    """The backend holding data outside the index folder (Milvus), as the manifest records it."""
    from rag.index.backends import backend_for
    from rag.index.store import read_manifest

    try:
        backend = backend_for(read_manifest(path), config.index)
    except RagError:
        return None  # no readable manifest: nothing known outside the folder
    return None if backend.kind == "faiss" else backend


def match_documents(docs: list[Document], names: Sequence[str]) -> list[Document]:
    """The documents named: exact id, source or file name, or a unique id prefix of >= 6 chars."""
    found: dict[str, Document] = {}
    for name in names:
        exact = [d for d in docs if name in (d.id, d.source, d.name)]
        prefix = [d for d in docs if len(name) >= 6 and d.id.startswith(name)]
        hits = exact or prefix
        if not hits:
            hint = " (an id prefix needs at least 6 characters)" if len(name) < 6 else ""
            raise DocumentError(f"no indexed document is named {name!r}{hint}; see `rag index status`")
        if not exact and len(prefix) > 1:
            raise DocumentError(f"{name!r} is the start of {len(prefix)} ids; give more of the id")
        found.update((d.id, d) for d in hits)
    return list(found.values())


@main.command()
@click.option("--host", default=None, help="Address to bind (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from config: 7860).")
@click.option("--allow-remote", is_flag=True, help="Required to bind an address other than loopback.")
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str | None, port: int | None, allow_remote: bool) -> None:
    """Start the chat page."""
    config = _config(ctx)
    host = host or config.ui.host
    if host not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        raise ConfigError(f"refusing to bind {host!r} without --allow-remote "
                          "(the page would be reachable from other machines)")
    from ui.app import serve as run_server

    run_server(config, host=host, port=port or config.ui.port)


@main.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option("--k", "ks", default="1,3,5,10", show_default=True, help="Cut-offs for recall@k.")
@click.option("--per-context", is_flag=True, help="Ask each question against its own context only.")
@click.option("--t2s/--no-t2s", default=None, help="Traditional→Simplified (default: on for DRCD).")
@click.option("--corpus", multiple=True, type=click.Path(path_type=Path),
              help="For JSONL sets: the documents to ask about (default: the configured corpus).")
@click.option("--compare", is_flag=True, help="Also score sentence answers (reader off) on the same index.")
@click.pass_context
@friendly
def eval_command(ctx: click.Context, dataset: Path, as_json: bool, limit: int | None, ks: str,
                 per_context: bool, t2s: bool | None, corpus: tuple[Path, ...], compare: bool) -> None:
    """Evaluate on DATASET: SQuAD-format JSON (CMRC 2018, DRCD, CAIL2019) or JSONL."""
    from rag.evaluation.datasets import load_dataset
    from rag.evaluation.runner import HAND, evaluate

    try:
        cutoffs = sorted({int(k) for k in ks.split(",") if k.strip()})
    except ValueError as exc:
        raise click.BadParameter(f"{ks!r}: expected comma-separated integers such as 1,3,5,10") from exc
    if not cutoffs or cutoffs[0] < 1:
        raise click.BadParameter(f"{ks!r}: every cut-off must be a positive integer, such as 1,3,5,10")
    data = load_dataset(dataset, t2s=t2s)
    result = evaluate(data, _config(ctx), ks=cutoffs, limit=limit, per_context=per_context,
                      corpus=corpus, compare=HAND if compare else None)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"{result['dataset']}: {result['n']} questions, answered by the {result['answerer']}"
               + (" (per context)" if per_context else ""))
    for section in ("retrieval", "answer", "citation", "refusal", "latency_ms", "build"):
        click.echo(f"  {section:<10} " + "  ".join(f"{k}={v}" for k, v in result[section].items()))
    for name, sections in result.get("compared", {}).items():
        click.echo(f"  answered by the {name}:")
        for section, values in sections.items():
            click.echo(f"    {section:<10} " + "  ".join(f"{k}={v}" for k, v in values.items()))
    for mode, values in result["retrieval_by_mode"].items():
        click.echo(f"  {mode:<10} " + "  ".join(f"{k}={v}" for k, v in values.items()))


from rag.cli_models import models  # noqa: E402  (`rag models`)
from rag.cli_reader import reader  # noqa: E402  (the `rag reader` group)

main.add_command(models)
main.add_command(reader)

if __name__ == "__main__":  # pragma: no cover
    main()
