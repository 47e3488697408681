"""The extraction of a batch of documents: the pipeline (the model and the rule layer),
long texts cut into pieces for it, and the mention rows of what it finds.

What decides a document's mentions lives here, in the rule modules and in the model;
the extractor key (stage.extractor_key) hashes every module of this package but
stage.py, which only moves documents and mention rows between files and processes.
So a change to the stage's plumbing does not make every archive extract again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
from spacy.language import Language

from pipeline.extract.layer import add_rule_layer
from pipeline.extract.mentions import MENTION_COLUMNS, SourceOffsets, doc_mentions
from pipeline.model import ModelInfo, load_pipeline


def build_nlp(
    model_config: dict[str, Any], log: Any = print, info: ModelInfo | None = None
) -> tuple[Language, ModelInfo]:
    nlp, info = load_pipeline(model_config, log=log, info=info)
    add_rule_layer(nlp)
    info.components = list(nlp.pipe_names)
    return nlp, info


def chunk_text(text: str, max_chars: int) -> list[tuple[int, str]]:
    """(offset, piece) pieces of at most `max_chars`, cut at paragraph or line
    breaks where possible: spaCy refuses texts over nlp.max_length, and one huge
    document must not hold the whole batch in memory."""
    if len(text) <= max_chars:
        return [(0, text)]
    pieces = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = text.rfind("\n\n", start, end)
            if cut <= start:
                cut = text.rfind("\n", start, end)
            if cut <= start:
                cut = text.rfind(" ", start, end)
            end = cut + 1 if cut > start else end
        pieces.append((start, text[start:end]))
        start = end
    return pieces


DocumentRecord = tuple[str, str, str]  # doc_id, text, offset map (JSON)
RECORD_COLUMNS = ["doc_id", "text", "offset_map"]  # a DocumentRecord's columns of documents.parquet
# Characters the model gets per nlp.pipe call: its memory grows with the batch
# (about 370 MB for 100,000 characters), and smaller batches cost throughput.
MODEL_BATCH_CHARS = 100_000


def piece_chars(max_chunk_chars: int) -> int:
    """The most characters of a text the model sees at once (`extract.max_chunk_chars`,
    but never fewer than a model batch): where a long text is cut."""
    return max(max_chunk_chars, MODEL_BATCH_CHARS)


def extract_batch(
    nlp: Language, documents: list[DocumentRecord], batch_size: int = 64, max_chunk_chars: int = 20_000
) -> list[tuple[Any, ...]]:
    """Mention rows (tuples in MENTION_COLUMNS order) of a batch of documents; long
    documents are cut into chunks. Pure: the same batch gives the same rows in any
    process, so batches can run anywhere and in any order."""
    return list(batch_rows(nlp, documents, batch_size, max_chunk_chars))


def batch_rows(
    nlp: Language, documents: list[DocumentRecord], batch_size: int = 64, max_chunk_chars: int = 20_000
) -> Iterator[tuple[Any, ...]]:
    """extract_batch's rows one by one, as each piece leaves the model."""
    numbers = [1] * len(documents)
    offsets: tuple[int, SourceOffsets | None] = (-1, None)
    for group in piece_groups(documents, piece_chars(max_chunk_chars)):
        for doc, (index, base) in nlp.pipe(group, as_tuples=True, batch_size=batch_size):
            doc_id, _, offset_map = documents[index]
            if offsets[0] != index:
                offsets = (index, SourceOffsets(offset_map))
            found = doc_mentions(doc, doc_id, offsets[1], base, numbers[index])
            numbers[index] += len(found)
            yield from (tuple(row[c] for c in MENTION_COLUMNS) for row in found)


def piece_groups(documents: list[DocumentRecord], max_chars: int) -> Iterator[list[tuple[str, tuple[int, int]]]]:
    """The documents' pieces (text, (document index, offset)) in groups of about
    `max_chars` characters: the model holds a whole nlp.pipe batch in memory at
    once, so a huge document must not reach it as one batch of all its chunks."""
    group: list[tuple[str, tuple[int, int]]] = []
    chars = 0
    for index, (_, text, _) in enumerate(documents):
        for base, piece in chunk_text(text, max_chars):
            if group and chars + len(piece) > max_chars:
                yield group
                group, chars = [], 0
            group.append((piece, (index, base)))
            chars += len(piece)
    if group:
        yield group


def document_records(documents: Iterable[DocumentRecord] | pd.DataFrame) -> Iterable[DocumentRecord]:
    """(doc_id, text, offset map) of each document, from records or a documents table."""
    if isinstance(documents, pd.DataFrame):
        return documents[["doc_id", "text", "offset_map"]].itertuples(index=False, name=None)
    return documents


def document_batches(
    documents: Iterable[DocumentRecord] | pd.DataFrame, batch_size: int, max_chars: int
) -> Iterator[list[DocumentRecord]]:
    """Consecutive batches of at most `batch_size` documents and, past the first
    document, about `max_chars` characters, so one batch of huge texts stays small."""
    batch: list[DocumentRecord] = []
    chars = 0
    for row in document_records(documents):
        if batch and (len(batch) >= batch_size or chars + len(row[1]) > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(row)
        chars += len(row[1])
    if batch:
        yield batch
