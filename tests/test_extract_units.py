import random

import pandas as pd
import pytest

from pipeline.extract import MENTION_COLUMNS, chunk_text, worker_processes
from pipeline.extract.stage import canonical_mentions, in_document_order, kept_mentions


def test_worker_processes_automatic_and_explicit():
    assert worker_processes(0, 10) == 1
    assert worker_processes(0, 5000) >= 1
    assert worker_processes(0, 200) <= 2
    assert worker_processes(3, 1) == 3


def test_chunks_cover_the_text_and_cut_at_paragraphs():
    text = "\n\n".join(f"Absatz {i} " + "wort " * 30 for i in range(50))
    chunks = chunk_text(text, 500)
    assert "".join(piece for _, piece in chunks) == text
    assert all(len(piece) <= 500 for _, piece in chunks)
    assert all(text[offset : offset + len(piece)] == piece for offset, piece in chunks)
    assert all(piece.endswith("\n") for _, piece in chunks[:-1])
    assert chunk_text("kurz", 500) == [(0, "kurz")]


def test_document_batches_keep_order_and_limits():
    import pandas as pd

    from pipeline.extract import document_batches

    texts = ["a" * 10] * 7 + ["b" * 1000] + ["c" * 10] * 3
    documents = pd.DataFrame({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts, "offset_map": ""})
    batches = list(document_batches(documents, batch_size=3, max_chars=500))
    assert [doc_id for batch in batches for doc_id, _, _ in batch] == list(documents["doc_id"])
    assert all(len(batch) <= 3 for batch in batches)
    # a text over the character budget travels alone instead of being dropped or split
    assert [len(batch) for batch in batches] == [3, 3, 1, 1, 3]


def test_source_offsets_answer_as_the_ingest_offset_map():
    import json
    import random

    from pipeline.extract.mentions import SourceOffsets
    from pipeline.ingest import load_offset_map, source_span

    rng = random.Random(7)
    segments, text_start, source_start = [], 0, 0
    for _ in range(200):
        length = rng.randint(0, 40)
        exact = rng.random() < 0.8
        segments.append([text_start, source_start, length, exact])
        text_start += length
        # markup skipped in the source (a gap), or text continuing the previous segment
        source_start += length + (0 if rng.random() < 0.5 else rng.randint(1, 30))
    serialised = json.dumps(segments)
    compact, reference = SourceOffsets(serialised), load_offset_map(serialised)
    assert len(compact.text_starts) < len(segments)  # contiguous exact runs are merged
    for start in range(0, text_start + 5):
        for end in (start, start + 1, start + 7):
            assert compact.span(start, end) == source_span(reference, start, end)
    assert SourceOffsets("[]").span(3, 9) == (3, 9)


def test_a_document_in_many_chunks_gives_the_mentions_of_its_pieces():
    """Chunking a huge document changes no mention: the same rows, at the same
    offsets, as the chunks extracted one by one (the blank pipeline + rule layer)."""
    import json

    import spacy

    from pipeline.extract import add_rule_layer, extract_batch

    nlp = add_rule_layer(spacy.blank("de"))
    paragraph = (
        "Oberbürgermeisterin Dr. Katja Wellmann eröffnete in Bochum die Tagung der Stadt Witten. "
        "Rückfragen an Jana Ostermann, Telefon 0231/50-12345, jana.ostermann@dortmund.de."
    )
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(12))
    offset_map = json.dumps([[0, 0, len(text), True]])
    whole = extract_batch(nlp, [("doc", text, offset_map)], max_chunk_chars=400)
    pieces = chunk_text(text, 400)
    assert len(pieces) > 3
    separately = []
    for base, piece in pieces:
        rows = extract_batch(nlp, [("doc", piece, json.dumps([[0, base, len(piece), True]]))], max_chunk_chars=400)
        separately += [
            (text_, label, start + base, source_start) for _, _, text_, label, start, _, source_start, *_ in rows
        ]
    assert [(r[2], r[3], r[4], r[6]) for r in whole] == separately
    assert len({r[1] for r in whole}) == len(whole)  # mention ids stay unique across chunks
    assert {("Katja Wellmann", "PER"), ("jana.ostermann@dortmund.de", "EMAIL")} <= {(r[2], r[3]) for r in whole}


def _mention_rows(doc_ids: list[str], rng) -> pd.DataFrame:
    rows = []
    for doc_id in doc_ids:
        for number in range(rng.randrange(0, 5)):
            row = dict.fromkeys(MENTION_COLUMNS, "")
            start = rng.randrange(0, 50)
            row.update(doc_id=doc_id, mention_id=f"{doc_id}-m{number}", start=start, end=start + 3)
            row.update(source_start=start, source_end=start + 3, label=rng.choice(["PER", "LOC"]))
            rows.append(row)
    return pd.DataFrame(rows, columns=MENTION_COLUMNS)


def _cut(frame, rng) -> list:
    """The frame in consecutive pieces of random length (a document may be cut in two)."""
    pieces, start = [], 0
    while start < len(frame):
        end = start + rng.randrange(1, 9)
        pieces.append(frame.iloc[start:end])
        start = end
    return pieces


def test_streams_in_document_order_merge_into_the_order_of_the_whole_table():
    rng = random.Random(7)
    for _ in range(30):
        doc_ids = [f"doc{n:03d}" for n in rng.sample(range(1000), 40)]  # listing order, not sorted by name
        position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        owner = [rng.randrange(3) for _ in doc_ids]  # which stream has each document's rows
        streams, tables = [], []
        for s in range(3):
            table = _mention_rows([d for d, o in zip(doc_ids, owner, strict=True) if o == s], rng)
            # rows inside a document in any order: the merge sorts them by start
            table = table.sample(frac=1, random_state=s).sort_values(
                "doc_id", key=lambda c: c.map(position), kind="stable"
            )
            tables.append(table)
            streams.append(iter(_cut(table, rng)))
        merged = pd.concat(list(in_document_order(streams, position)), ignore_index=True)
        whole = pd.concat(tables, ignore_index=True).sort_values(
            ["doc_id", "start", "mention_id"], key=lambda c: c.map(position) if c.name == "doc_id" else c
        )
        assert merged.equals(canonical_mentions(whole)), len(whole)


def test_a_stream_out_of_document_order_is_refused_not_merged():
    a, b = _mention_rows(["a"], random.Random(1)), _mention_rows(["b"], random.Random(1))
    assert len(a) and len(b)
    for parts in ([pd.concat([b, a])], [b, a]):  # inside one part, and from one part to the next
        with pytest.raises(RuntimeError, match="out of document order"):
            list(in_document_order([iter(parts)], {"a": 0, "b": 1}))


def test_a_failure_downstream_closes_every_stream():
    closed = []

    def stream(name: str, doc_ids: list[str]):
        try:
            for doc_id in doc_ids:
                yield _mention_rows([doc_id] * 3, random.Random(4))
        finally:
            closed.append(name)

    position = {d: i for i, d in enumerate("abcdef")}
    streams = [stream("fresh", list("ace")), stream("kept", list("bdf"))]  # run_extract holds them too
    merged = in_document_order(streams, position)
    next(merged)
    merged.close()  # what the writer does when it fails
    assert sorted(closed) == ["fresh", "kept"]


@pytest.mark.parametrize("rows_per_part", [10_000, 2, 1])
def test_kept_mentions_come_in_this_runs_order_even_if_the_last_run_listed_them_otherwise(
    tmp_path, monkeypatch, rows_per_part
):
    """Read in parts of any size: the order is checked across the parts too."""
    monkeypatch.setattr("pipeline.extract.stage.ROWS_PER_FRAME", rows_per_part)
    last_order = ["c", "a", "b", "gone"]
    table = canonical_mentions(_mention_rows(last_order, random.Random(3)))
    table.to_parquet(tmp_path / "mentions.parquet", index=False, row_group_size=3)
    for order in (["a", "b", "c"], ["c", "new", "a", "b"]):
        position = {d: i for i, d in enumerate(order)}
        kept = set(order) - {"new"}
        got = pd.concat(list(kept_mentions(tmp_path / "mentions.parquet", kept, position)))
        assert got["doc_id"].map(position).is_monotonic_increasing
        assert sorted(got["mention_id"]) == sorted(table.loc[table["doc_id"].isin(kept), "mention_id"])
    # a last run that found nothing: nothing to keep, in either order
    table.iloc[:0].to_parquet(tmp_path / "mentions.parquet", index=False)
    assert list(kept_mentions(tmp_path / "mentions.parquet", {"a", "b"}, {"b": 0, "a": 1})) == []


def test_kept_mentions_in_order_are_the_files_rows_of_the_kept_documents_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.extract.stage.ROWS_PER_FRAME", 2)
    table = canonical_mentions(_mention_rows(["a", "gone", "b", "c"], random.Random(5)))
    table.to_parquet(tmp_path / "mentions.parquet", index=False, row_group_size=3)
    position = {d: i for i, d in enumerate(["a", "b", "new", "c"])}
    got = pd.concat(list(kept_mentions(tmp_path / "mentions.parquet", {"a", "b", "c"}, position)), ignore_index=True)
    expected = table[table["doc_id"] != "gone"].reset_index(drop=True)
    assert got.equals(expected) and got.dtypes.equals(expected.dtypes)
    assert list(got.columns) == MENTION_COLUMNS


def test_canonical_mentions_gives_the_one_schema_in_the_columns_order():
    table = canonical_mentions(_mention_rows(["a", "b"], random.Random(7)))
    shuffled = table[list(reversed(MENTION_COLUMNS))].astype(object).set_axis(range(5, 5 + len(table)))
    again = canonical_mentions(shuffled)
    assert list(again.columns) == MENTION_COLUMNS
    assert again.equals(table) and again.dtypes.equals(table.dtypes)
    assert canonical_mentions(table) is table  # already canonical: not copied


def test_the_extractor_key_covers_what_decides_mentions_but_not_the_stage(monkeypatch):
    """The stage's plumbing can change without every archive extracting again; the
    batches, the rules, the mention rows, the normalisation they use, how the model is
    loaded and where long texts are cut cannot."""
    from importlib import resources

    from pipeline.extract import stage
    from pipeline.model import ModelInfo

    calls: list[tuple[list, list[str]]] = []
    monkeypatch.setattr(stage, "code_key", lambda settings, files, folders=(): calls.append((settings, list(files))))
    info = ModelInfo(name="m", version="1", kind="installed", path="", data_hash="d")
    stage.extractor_key(info, 20_000)
    settings, hashed = calls[0]
    modules = {f"extract/{p.name}" for p in resources.files("pipeline").joinpath("extract").iterdir()}
    assert {"extract/batches.py", "extract/mentions.py", "normalize.py", "model.py"} <= set(hashed)
    assert set(hashed) >= {m for m in modules if m.endswith(".py")} - {"extract/stage.py"}
    assert "extract/stage.py" not in hashed
    # where a text is cut: the configured size, but never under a model batch
    for size in (1_000, 100_000, 250_000):
        stage.extractor_key(info, size)
    assert [c[0][-1] for c in calls] == [100_000, 100_000, 100_000, 250_000]
