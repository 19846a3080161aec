"""`rag models`: each configured model, where it resolved, and how it runs on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from rag.cli_reader import reader_line
from rag.config import Config


@click.command()
@click.option("--measure", is_flag=True,
              help="Time the candidate runtimes again now (on a quiet machine), replacing stored choices.")
@click.pass_context
def models(ctx: click.Context, measure: bool) -> None:
    """Show each configured model, how it resolved, its folder, and the runtime chosen here."""
    from rag.cli import friendly

    @friendly
    def run() -> None:
        from rag.models.resolve import resolve_model

        config = Config.load(ctx.obj.get("config"))
        e = config.embedding
        resolved = resolve_model(e.model, e.cache_dir, query_prompt=e.query_prompt,
                                 passage_prompt=e.passage_prompt)
        click.echo(f"embedding  {resolved.model_id}\n  resolved: {resolved.how}\n  path: {resolved.path}")
        reranker = config.retrieval.reranker
        click.echo(f"reranker   {reranker or '(off)'}")
        click.echo(reader_line(config.answer.reader))
        if measure:
            measure_now(config)
        click.echo(runtime_lines(config))

    run()


def measure_now(config: Config) -> None:
    """Run each shape once, so any choice not yet stored for this machine is measured."""
    from rag.embed import Embedder
    from rag.runtime import Planner

    embedder = Embedder(config.embedding)
    embedder.planner = Planner(config.embedding.cache_dir, embedder.planner.model, fresh=True)
    embedder.plan("passage")
    embedder.plan("query")
    if config.answer.reader is not None:
        from rag.answerers import make_answerer

        answerer = make_answerer(config, embedder)
        answerer.reader.load()  # type: ignore[union-attr]


def runtime_lines(config: Config) -> str:
    """What was chosen for each shape on this machine, and what the other candidates took."""
    from rag.runtime import Planner

    e = config.embedding
    planner = Planner(e.cache_dir, Path(e.model).name)
    lines = [f"runtime    {planner.machine.describe()}\n  cache: {planner.cache.path}"]
    shapes = [("passages", "passages", e.dtype != "auto" and e.batch_size is not None),
              ("query", "query", e.dtype != "auto")]
    if config.answer.reader is not None:
        name = Path(config.answer.reader).name
        shapes.append((f"reader/{name}", "reader", e.dtype != "auto"))
    for shape, label, fixed in shapes:
        if fixed:
            lines.append(f"  {label:<9}set in the config (embedding.dtype: {e.dtype}, "
                         f"batch_size: {e.batch_size})")
            continue
        found = planner.cached(shape)
        if found is None:
            lines.append(f"  {label:<9}not measured yet (timed on first use, or now with --measure)")
            continue
        others = ", ".join(f"{k} {v:.1f}" for k, v in sorted(found.median_ms.items(), key=lambda kv: kv[1]))
        lines.append(f"  {label:<9}{found.best}  (median ms: {others})")
        lines.extend(f"  {'':<9}dropped {k}: {why}" for k, why in found.dropped.items())
    return "\n".join(lines)
