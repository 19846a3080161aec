"""FileRows: the word-embedding lookup that reads rows from the weights file on first use."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from rag.models.rows import FileRows, use_file_rows

VOCAB, DIM = 50, 8


def saved_embedding(folder: Path, name: str = "embeddings.word_embeddings.weight",
                    dtype: torch.dtype = torch.float32) -> tuple[nn.Embedding, Path]:
    """An embedding and a safetensors file holding it (after another tensor, so the offset is not 0)."""
    torch.manual_seed(0)
    embedding = nn.Embedding(VOCAB, DIM).to(dtype)
    path = folder / "model.safetensors"
    save_file({"a.bias": torch.ones(3), name: embedding.weight.detach().contiguous()}, str(path))
    return embedding, path


def test_lookups_equal_the_loaded_matrix_and_read_each_row_once(tmp_path: Path) -> None:
    embedding, path = saved_embedding(tmp_path)
    rows = FileRows.from_safetensors(path, embedding)
    assert rows is not None and rows.held == 3  # the three probe rows it checked the file with
    ids = torch.tensor([[5, 5, 0, 49], [7, 5, 1, 2]])
    assert torch.equal(rows(ids), embedding(ids).detach())
    assert rows.held == 7  # the probes 0, 25 and 49, then 5, 7, 1 and 2
    many = torch.arange(VOCAB).flip(0)
    assert torch.equal(rows(many), embedding(many).detach()) and rows.held == VOCAB
    assert rows(torch.tensor([], dtype=torch.long)).shape == (0, DIM)


def test_capacity_grows_past_the_first_block(tmp_path: Path) -> None:
    torch.manual_seed(1)
    embedding = nn.Embedding(300, 4)
    path = tmp_path / "m.safetensors"
    save_file({"word_embeddings.weight": embedding.weight.detach()}, str(path))
    rows = FileRows.from_safetensors(path, embedding)
    assert rows is not None
    for start in range(0, 300, 70):  # several reads, each appending past the last capacity
        ids = torch.arange(start, min(start + 70, 300))
        if start == 70:  # the encoders look up in inference mode; the rows read there must
            with torch.inference_mode():  # still take appends outside it (training, the CLI)
                got = rows(ids)
        else:
            got = rows(ids)
        assert torch.equal(got, embedding(ids).detach())
    assert rows.held == 300


def test_ids_out_of_range_are_an_error(tmp_path: Path) -> None:
    embedding, path = saved_embedding(tmp_path)
    rows = FileRows.from_safetensors(path, embedding)
    assert rows is not None
    for bad in (VOCAB, -1):
        with pytest.raises(IndexError, match=f"0..{VOCAB - 1}"):
            rows(torch.tensor([1, bad]))


@pytest.mark.parametrize("case", ["other name", "float16", "other values", "other shape", "no file"])
def test_a_file_that_does_not_hold_the_matrix_leaves_the_model_alone(tmp_path: Path, case: str) -> None:
    embedding, path = saved_embedding(tmp_path, name="embeddings.position_embeddings.weight"
                                      if case == "other name" else "embeddings.word_embeddings.weight",
                                      dtype=torch.float16 if case == "float16" else torch.float32)
    loaded = embedding.float() if case == "float16" else embedding
    if case == "other values":
        loaded = nn.Embedding(VOCAB, DIM)
    if case == "other shape":
        loaded = nn.Embedding(VOCAB + 1, DIM)
    if case == "no file":
        path = tmp_path / "missing.safetensors"
    assert FileRows.from_safetensors(path, loaded) is None


def test_a_garbled_header_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes((10).to_bytes(8, "little") + b"not json!!" + bytes(100))
    assert FileRows.from_safetensors(path, nn.Embedding(VOCAB, DIM)) is None


def test_threads_looking_up_at_once_get_the_same_rows(tmp_path: Path) -> None:
    embedding, path = saved_embedding(tmp_path)
    rows = FileRows.from_safetensors(path, embedding)
    assert rows is not None
    out: dict[int, torch.Tensor] = {}
    batches = [torch.randint(0, VOCAB, (4, 16), generator=torch.Generator().manual_seed(k)) for k in range(8)]
    threads = [threading.Thread(target=lambda k=k: out.__setitem__(k, rows(batches[k]))) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, ids in enumerate(batches):
        assert torch.equal(out[k], embedding(ids).detach())
    seen = set(torch.cat([b.flatten() for b in batches]).tolist()) | {0, VOCAB // 2, VOCAB - 1}
    assert rows.held == len(seen)  # each row read once, none twice by racing threads


def test_the_e5_backbone_looks_up_through_file_rows(embedder) -> None:
    rows = embedder.backbone.model.get_input_embeddings()
    assert isinstance(rows, FileRows)
    text = "扶贫 rows 🙂 测试 ①"
    pieces = len(embedder.backbone.tokenizer.encode("query: " + text).ids)
    before = rows.held
    embedder.embed([text], "query")
    assert before <= rows.held <= before + pieces
    assert rows.held < rows.num_embeddings // 10  # what the session read, not the 250,037 rows


def test_use_file_rows_reports_whether_it_swapped(tmp_path: Path) -> None:
    embedding, path = saved_embedding(tmp_path)

    class Holder(nn.Module):  # the two methods transformers models have
        def __init__(self) -> None:
            super().__init__()
            self.emb = embedding

        def get_input_embeddings(self) -> nn.Module:
            return self.emb

        def set_input_embeddings(self, value: nn.Module) -> None:
            self.emb = value

    holder = Holder()
    assert not use_file_rows(holder, tmp_path / "missing.safetensors") and holder.emb is embedding
    assert use_file_rows(holder, path) and isinstance(holder.emb, FileRows)
