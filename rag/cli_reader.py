"""`rag reader train` and `rag reader calibrate`: the trained reader's commands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rag.config import PACKAGE_ROOT, Config
from rag.errors import DatasetError, ReaderError
from rag.reader.weights import DEFAULT_READER

SHARED_TRAIN = PACKAGE_ROOT.parent / "shared" / "train"
DEFAULT_FILES = ("cmrc2018_train.json.gz", "drcd_train_subset.json.gz")
DEFAULT_WORK = PACKAGE_ROOT / "artifacts" / "reader-train"


def reader_line(name: str | None) -> str:
    """`rag models`'s line for the reader: where it is and whether its file checks out."""
    if name is None:
        return "reader     (off: answers are whole sentences)"
    from rag.reader.weights import read_meta, resolve_folder, sha256_file

    folder = resolve_folder(name)
    try:
        meta = read_meta(folder)
    except ReaderError as exc:
        return f"reader     {name}\n  error: {exc}"
    ok = (folder / "model.safetensors").is_file() and sha256_file(folder / "model.safetensors") == meta.sha256
    return (f"reader     {name}\n  base: {meta.base_model}, layers {meta.trained_from}-{meta.num_layers - 1} "
            f"fine-tuned\n  path: {folder}\n  sha256: {meta.sha256[:16]}… "
            f"({'verified' if ok else 'MISMATCH: retrain or set answer.reader: null'})")


def _config(ctx: click.Context) -> Config:
    return Config.load(ctx.find_root().obj.get("config"))


def _default_files() -> list[Path]:
    files = [SHARED_TRAIN / f for f in DEFAULT_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetError("training data not found: " + ", ".join(missing)
                           + "; pass SQuAD-format files with --train")
    return files


null_logits_option = click.option(
    "--null-logits/--margin-only", default=False, show_default=True,
    help="Refuse on the span's own and its \"no answer\" logits instead of their margin "
         "(rejected for reader-v4 on validation: see its model card).")


@click.group()
def reader() -> None:
    """Train and calibrate the span reader."""


@reader.command("train")
@click.option("--train", "files", multiple=True, type=click.Path(path_type=Path),
              help="SQuAD-format JSON (.json or .json.gz); default: CMRC 2018 train and the DRCD subset.")
@click.option("--work", type=click.Path(path_type=Path), default=DEFAULT_WORK, show_default=True,
              help="Checkpoints; a run killed and started again with the same settings resumes here.")
@click.option("--out", default=DEFAULT_READER, show_default=True,
              help="Name under rag/weights/, or a folder, for the calibrated weights.")
@click.option("--epochs", type=click.FloatRange(0.01, 20), default=1.0, show_default=True)
@click.option("--trained-from", type=click.IntRange(0, 11), default=3, show_default=True,
              help="Fine-tune this layer and the ones above; the rest stay e5-small's.")
@click.option("--batch-size", type=click.IntRange(1, 512), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(1e-7, 1.0), default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--validation-share", type=click.FloatRange(0.01, 0.9), default=0.08, show_default=True,
              help="Share of contexts held out to choose the weights and calibrate refusal.")
@click.option("--init", default=None, help="Start from this reader's weights (a name or folder).")
@click.option("--char-tokens/--pieces", default=False, show_default=True,
              help="Read Chinese one character per token instead of e5's multi-character pieces.")
@null_logits_option
@click.pass_context
def train_command(ctx: click.Context, files: tuple[Path, ...], work: Path, out: str, epochs: float,
                  trained_from: int, batch_size: int, lr: float, seed: int, validation_share: float,
                  init: str | None, char_tokens: bool, null_logits: bool) -> None:
    """Fine-tune the reader, then calibrate it on validation data and write it to OUT."""
    from rag.cli import friendly

    @friendly
    def run() -> None:
        from rag.embed import Embedder
        from rag.reader.export import calibrate_and_export
        from rag.reader.session import train_reader
        from rag.reader.train import TrainSettings
        from rag.reader.weights import resolve_folder

        config = _config(ctx)
        paths = list(files) or _default_files()
        settings = TrainSettings(files=tuple(str(p.resolve()) for p in paths), epochs=epochs,
                                 trained_from=trained_from, batch_size=batch_size, lr=lr, seed=seed,
                                 validation_share=validation_share, init=init, char_tokens=char_tokens)
        result = train_reader(config, settings, work)
        click.echo(f"trained {result.steps} steps in {result.wall_s / 60:.1f} min; "
                   f"best validation at step {result.best_step}")
        report = calibrate_and_export(config, work, resolve_folder(out), Embedder(config.embedding),
                                      null_logits=null_logits)
        click.echo(json.dumps(report, ensure_ascii=False))
        click.echo(f"wrote {resolve_folder(out)}")

    run()


@reader.command("calibrate")
@click.option("--work", type=click.Path(path_type=Path), default=DEFAULT_WORK, show_default=True)
@click.option("--out", default=DEFAULT_READER, show_default=True)
@click.option("--max-refused", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Most answerable validation questions the refusal rule may refuse.")
@null_logits_option
@click.pass_context
def calibrate_command(ctx: click.Context, work: Path, out: str, max_refused: float,
                      null_logits: bool) -> None:
    """Calibrate the best weights in WORK on validation data and write them to OUT."""
    from rag.cli import friendly

    @friendly
    def run() -> None:
        from rag.embed import Embedder
        from rag.reader.export import calibrate_and_export
        from rag.reader.weights import resolve_folder

        config = _config(ctx)
        report = calibrate_and_export(config, work, resolve_folder(out), Embedder(config.embedding),
                                      max_refused, null_logits=null_logits)
        click.echo(json.dumps(report, ensure_ascii=False))
        click.echo(f"wrote {resolve_folder(out)}")

    run()
