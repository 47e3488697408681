from pathlib import Path

import spacy

from pipeline.germeval import map_tag, read_germeval, sentence_to_doc


def test_tag_mapping():
    assert map_tag("B-PER") == "B-PER"
    assert map_tag("I-OTH") == "I-MISC"
    assert map_tag("B-LOCderiv") == "B-LOC"
    assert map_tag("B-LOCpart") == "O"
    assert map_tag("O") == "O"


def test_reader_builds_docs_with_entities(tmp_path: Path):
    sample = tmp_path / "s.tsv"
    sample.write_text(
        "#\thttp://example.org\t[2010-01-01]\n1\tDie\tO\tO\n2\tHagener\tB-LOCderiv\tO\n3\tPolizei\tO\tO\n"
        "4\tfand\tO\tO\n5\tFrank\tB-PER\tO\n6\tDudda\tI-PER\tO\n7\t.\tO\tO\n\n",
        encoding="utf-8",
    )
    sentences = list(read_germeval(sample))
    assert len(sentences) == 1
    doc = sentence_to_doc(spacy.blank("de").vocab, sentences[0])
    assert doc.text == "Die Hagener Polizei fand Frank Dudda."
    assert [(e.text, e.label_) for e in doc.ents] == [("Hagener", "LOC"), ("Frank Dudda", "PER")]
