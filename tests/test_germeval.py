import re
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, Span

from pipeline.germeval import (
    chunks,
    doc_tags,
    map_tag,
    pipeline_label,
    read_germeval,
    score_chunks,
    sentence_to_doc,
)

TSV_SAMPLE = (
    "#\thttp://example.org\t[2010-01-01]\n1\tDie\tO\tO\n2\tHagener\tB-LOCderiv\tO\n3\tPolizei\tO\tO\n"
    "4\tfand\tO\tO\t\n5\tFrank\tB-PER\tO\n6\tDudda\tI-PER\tO\n7\t.\tO\tO\n\n"
)


def test_tag_mapping():
    assert map_tag("B-PER") == "B-PER"
    assert map_tag("I-OTH") == "I-MISC"
    assert map_tag("B-LOCderiv") == "B-LOC"
    assert map_tag("B-LOCpart") == "O"
    assert map_tag("O") == "O"
    assert pipeline_label("ORGderiv") == "ORG"
    assert pipeline_label("PERpart") is None


def test_tsv_reader_keeps_fine_tags_and_builds_docs(tmp_path: Path):
    sample = tmp_path / "s.tsv"
    sample.write_text(TSV_SAMPLE, encoding="utf-8")
    sentences = list(read_germeval(sample))
    assert len(sentences) == 1
    assert sentences[0].source == "http://example.org\t[2010-01-01]"
    assert sentences[0].tags[1] == "B-LOCderiv"
    vocab = spacy.blank("de").vocab
    doc = sentence_to_doc(vocab, sentences[0])
    assert doc.text == "Die Hagener Polizei fand Frank Dudda."
    assert [(e.text, e.label_) for e in doc.ents] == [("Hagener", "LOCderiv"), ("Frank Dudda", "PER")]
    mapped = sentence_to_doc(vocab, sentences[0], fine=False)
    assert [(e.text, e.label_) for e in mapped.ents] == [("Hagener", "LOC"), ("Frank Dudda", "PER")]


def test_iob2_reader_three_columns_and_hash_token(tmp_path: Path):
    sample = tmp_path / "s.iob2"
    # no index column, no comment lines: a "#" line is a token ("Platz # 1")
    sample.write_text(
        "Schartau\tB-PER\tO\nsagte\tO\tO\n#\tO\tO\n1\tO\tO\n\nIm\tO\tO\nRuhrgebietsstädte\tB-LOCpart\tO\n"
        "Deutsche\tB-ORG\tB-LOCderiv\nBahn\tI-ORG\tO\n",
        encoding="utf-8",
    )
    sentences = list(read_germeval(sample))
    assert [s.tokens for s in sentences] == [
        ("Schartau", "sagte", "#", "1"),
        ("Im", "Ruhrgebietsstädte", "Deutsche", "Bahn"),
    ]
    assert sentences[1].tags == ("O", "B-LOCpart", "B-ORG", "I-ORG")  # outer level only
    doc = sentence_to_doc(spacy.blank("de").vocab, sentences[1], fine=False)
    assert [(e.text, e.label_) for e in doc.ents] == [("Deutsche Bahn", "ORG")]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("a\tB-PER\n", "s.txt:1: expected 3 (token, outer, nested) or 4"),
        ("a\tB-PER\tO\nb\tO\tO\tO\n", "s.txt:2: expected 3 tab-separated fields, found 4"),
        ("a\tB-PERSON\tO\n", "s.txt:1: unknown GermEval tag 'B-PERSON'"),
    ],
)
def test_reader_names_file_and_line_of_bad_input(tmp_path: Path, content: str, problem: str):
    sample = tmp_path / "s.txt"
    sample.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(problem)):
        list(read_germeval(sample))


def test_stray_inside_tag_starts_an_entity(tmp_path: Path):
    sample = tmp_path / "s.iob2"
    sample.write_text("die\tO\tO\nBahn\tI-ORG\tO\n", encoding="utf-8")
    doc = sentence_to_doc(spacy.blank("de").vocab, next(read_germeval(sample)))
    assert [(e.text, e.label_) for e in doc.ents] == [("Bahn", "ORG")]


def test_chunks_follow_the_official_script():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "B-LOCderiv", "I-ORG", "I-PER"]
    assert chunks(tags) == {
        (0, 2, "PER"),
        (3, 5, "LOC"),
        (5, 6, "LOC"),
        (6, 7, "LOCderiv"),
        (7, 8, "ORG"),
        (8, 9, "PER"),
    }
    assert chunks([]) == set()


def test_official_metric_needs_exact_span_and_exact_fine_label():
    gold = [
        ["B-PER", "I-PER", "O", "B-LOCderiv", "O"],
        ["B-ORG", "I-ORG", "I-ORG", "O", "B-OTH"],
    ]
    predicted = [
        ["B-PER", "I-PER", "O", "B-LOC", "O"],  # PER right; LOC instead of LOCderiv is wrong
        ["B-ORG", "I-ORG", "O", "O", "B-OTH"],  # ORG one token short is wrong; OTH right
    ]
    scores = score_chunks(gold, predicted)
    assert scores["sentences"] == 2
    assert (scores["p"], scores["r"]) == (0.5, 0.5)  # 2 of 4 predicted, 2 of 4 gold
    assert scores["per_type"]["PER"] == {"p": 1.0, "r": 1.0, "f": 1.0, "gold": 1}
    assert scores["per_type"]["LOCderiv"] == {"p": 0.0, "r": 0.0, "f": 0.0, "gold": 1}
    assert scores["per_type"]["LOC"] == {"p": 0.0, "r": 0.0, "f": 0.0, "gold": 0}
    assert scores["per_type"]["ORG"]["f"] == 0.0


def test_metric_micro_averages_over_chunks():
    gold = [["B-PER", "O", "B-PER", "O", "B-LOC"]]
    predicted = [["B-PER", "O", "O", "O", "B-LOC"]]
    scores = score_chunks(gold, predicted)
    assert scores["p"] == 1.0
    assert scores["r"] == round(2 / 3, 4)
    assert scores["f"] == 0.8
    with pytest.raises(ValueError):
        score_chunks(gold, [])


def test_label_component_maps_fine_labels_to_pipeline_labels():
    nlp = spacy.blank("de")
    nlp.add_pipe("presseabgleich_pipeline_labels")
    doc = Doc(nlp.vocab, words=["Die", "Hagener", "Ruhrgebietsstädte", "und", "Frank", "Dudda", "lesen", "Spiegel"])
    doc.ents = [
        Span(doc, 1, 2, "LOCderiv"),
        Span(doc, 2, 3, "LOCpart"),
        Span(doc, 4, 6, "PER"),
        Span(doc, 7, 8, "OTH"),
    ]
    doc = nlp(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Hagener", "LOC"), ("Frank Dudda", "PER"), ("Spiegel", "MISC")]
    assert doc_tags(doc) == ["O", "B-LOC", "O", "O", "B-PER", "I-PER", "O", "B-MISC"]


def test_label_component_keeps_labels_it_does_not_know():
    nlp = spacy.blank("de")
    nlp.add_pipe("presseabgleich_pipeline_labels")
    doc = Doc(nlp.vocab, words=["info@stadt.de"])
    doc.ents = [Span(doc, 0, 1, "EMAIL")]
    assert [e.label_ for e in nlp(doc).ents] == ["EMAIL"]
