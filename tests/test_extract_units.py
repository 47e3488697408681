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
