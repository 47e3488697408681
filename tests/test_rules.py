"""The rule layer on its own (a blank German pipeline: no statistical NER, so every
entity here comes from the rules)."""

import pytest
import spacy

from pipeline.extract import CONTACTS_KEY, NESTED_KEY, add_rule_layer


@pytest.fixture(scope="module")
def rules_nlp():
    nlp = spacy.blank("de")
    nlp.add_pipe("sentencizer")
    return add_rule_layer(nlp)


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_role_and_title_are_split_from_the_name(rules_nlp):
    doc = rules_nlp("Bochums Oberbürgermeisterin Dr. Katja Wellmann begrüßte die Gäste.")
    assert ("Bochums", "LOC") in ents(doc)
    [person] = [e for e in doc.ents if e.label_ == "PER"]
    assert person.text == "Katja Wellmann"
    assert person._.titles == ("Dr.",)
    assert person._.roles == ("Oberbürgermeisterin",)


def test_apposition_role_is_attached(rules_nlp):
    doc = rules_nlp("Peter K. Brandt, Sprecher der Arbeitsgemeinschaft und Kämmerer in Unna, sagte dies.")
    [person] = [e for e in doc.ents if e.label_ == "PER"]
    assert person.text == "Peter K. Brandt"
    assert person._.roles == ("Sprecher der Arbeitsgemeinschaft und Kämmerer in Unna",)


def test_contacts(rules_nlp):
    doc = rules_nlp(
        "Rückfragen an Jana Ostermann unter Telefon 0231/50-12345 oder jana.ostermann@dortmund.de.\n"
        "f +49 231 50 22222\nwww.dortmund.de\nFriedensplatz 1 | 44135 Dortmund"
    )
    contacts = {(s.label_, s.text) for s in doc.spans[CONTACTS_KEY]}
    assert ("PHONE", "0231/50-12345") in contacts
    assert ("EMAIL", "jana.ostermann@dortmund.de") in contacts
    assert ("FAX", "+49 231 50 22222") in contacts
    assert ("URL", "www.dortmund.de") in contacts
    assert ("ADDRESS", "Friedensplatz 1 | 44135 Dortmund") in contacts
    assert ("Jana Ostermann", "PER") in ents(doc)


def test_ambiguous_place_names_need_context(rules_nlp):
    listed = rules_nlp("Beteiligt sind Bochum, Essen und Witten.")
    assert {("Bochum", "LOC"), ("Essen", "LOC"), ("Witten", "LOC")} <= set(ents(listed))
    food = rules_nlp("Das Essen war gut und die Ruhe tat allen wohl.")
    assert ("Essen", "LOC") not in ents(food)


def test_organisations(rules_nlp):
    doc = rules_nlp(
        "Die Stadt Witten und der Verein Kulturbrücke Witten e.V. luden ein, unterstützt vom "
        "Ministerium für Schule, Bildung und Sport des Landes Nordrhein-Westfalen und der Universität Witten-Herdecke."
    )
    found = set(ents(doc))
    assert ("Stadt Witten", "ORG") in found
    assert ("Kulturbrücke Witten e.V.", "ORG") in found
    assert ("Ministerium für Schule, Bildung und Sport des Landes Nordrhein-Westfalen", "ORG") in found
    assert ("Universität Witten-Herdecke", "ORG") in found
    assert ("Nordrhein-Westfalen", "LOC") in {(s.text, s.label_) for s in doc.spans[NESTED_KEY]}


def test_venue_is_a_place(rules_nlp):
    doc = rules_nlp("Die Tagung fand im Kongresszentrum Westfalenhallen statt.")
    assert ("Kongresszentrum Westfalenhallen", "LOC") in ents(doc)


def test_long_place_names_and_adjectives(rules_nlp):
    doc = rules_nlp("Gäste aus Mülheim an der Ruhr trafen Dortmunder Vereine.")
    assert ("Mülheim an der Ruhr", "LOC") in ents(doc)
    assert ("Dortmunder", "LOC") in ents(doc)
