from pipeline.extract import chunk_text, worker_processes


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
