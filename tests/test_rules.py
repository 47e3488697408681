"""The rule components on a blank German pipeline (no statistical NER: every
entity comes from the rules, or from `model_ents` standing in for the model)."""

import pytest
import spacy
from spacy.tokens import Span

from pipeline.extract import CONTACTS_KEY, NESTED_KEY, RULE_COMPONENTS, add_rule_layer
from pipeline.extract.entities import merge_proposals
from pipeline.extract.organisations import DEFINITE_ARTICLES
from pipeline.extract.spans import CANDIDATES_KEY


@pytest.fixture(scope="module")
def rules_nlp():
    nlp = spacy.blank("de")
    nlp.add_pipe("sentencizer")
    return add_rule_layer(nlp)


def test_the_rule_components_share_one_lexicon(rules_nlp):
    """Building the lexicon costs about 0.2 s and each instance keeps its own word caches:
    one per process, not one per component."""
    lexicons = {id(c.lex) for _, c in rules_nlp.pipeline if hasattr(c, "lex")}
    assert len([c for _, c in rules_nlp.pipeline if hasattr(c, "lex")]) >= 6 and len(lexicons) == 1


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def with_model_ents(nlp, text, spans):
    """A doc as the statistical NER would leave it: `spans` are (surface, label, occurrence)."""
    doc = nlp.make_doc(text)
    found = []
    for surface, label, *occurrence in spans:
        start = -1
        for _ in range((occurrence or [0])[0] + 1):
            start = text.index(surface, start + 1)
        found.append(doc.char_span(start, start + len(surface), label=label, alignment_mode="expand"))
    doc.ents = found
    return doc


def run_components(nlp, doc, upto=None):
    """Run the rule components on `doc` in pipeline order (up to and including `upto`)."""
    for name, component in nlp.pipeline:
        doc = component(doc)
        if name == upto:
            break
    return doc


def test_every_component_declares_what_it_assigns(rules_nlp):
    meta = {name: rules_nlp.get_pipe_meta(name) for name in RULE_COMPONENTS}
    assert all(m.assigns for m in meta.values())
    assert list(rules_nlp.pipe_names[-len(RULE_COMPONENTS) :]) == list(RULE_COMPONENTS)
    add_rule_layer(rules_nlp)  # idempotent
    assert rules_nlp.pipe_names.count("presseabgleich_persons") == 1


# --- contacts ---------------------------------------------------------------------


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


def test_a_year_is_no_phone_number_and_entities_over_contacts_go(rules_nlp):
    doc = with_model_ents(rules_nlp, "Seit 2019 schreibt info@verein-kulturbruecke.de alles.", [("verein", "ORG")])
    doc = run_components(rules_nlp, doc, upto="presseabgleich_contacts")
    assert [s.label_ for s in doc.spans[CONTACTS_KEY]] == ["EMAIL"]
    assert list(doc.ents) == []


# --- corrections to model entities ------------------------------------------------------


def test_model_errors_are_corrected(rules_nlp):
    text = "Die Presse- und Öffentlichkeitsarbeit der städtischen Kommunen Bochum sitzt in 58095 Hagen."
    doc = with_model_ents(
        rules_nlp,
        text,
        [("Presse-", "ORG"), ("städtischen", "LOC"), ("Kommunen Bochum", "ORG"), ("Hagen", "PER")],
    )
    doc = run_components(rules_nlp, doc, upto="presseabgleich_corrections")
    assert ents(doc) == [("Bochum", "LOC"), ("Hagen", "LOC")]


def test_a_municipality_that_is_also_a_surname_is_a_place_in_a_list_of_places(rules_nlp):
    text = "Mitglieder sind Bochum, Essen, Hagen und Herne. Frau Hagen dankte."
    doc = with_model_ents(
        rules_nlp,
        text,
        [("Bochum", "LOC"), ("Essen", "LOC"), ("Hagen", "PER"), ("Herne", "LOC"), ("Hagen", "PER", 1)],
    )
    doc = run_components(rules_nlp, doc, upto="presseabgleich_corrections")
    assert ents(doc) == [("Bochum", "LOC"), ("Essen", "LOC"), ("Hagen", "LOC"), ("Herne", "LOC"), ("Hagen", "PER")]


def test_a_place_is_extended_to_its_long_form(rules_nlp):
    doc = with_model_ents(rules_nlp, "Gäste aus Mülheim an der Ruhr kamen.", [("Mülheim", "LOC")])
    doc = run_components(rules_nlp, doc, upto="presseabgleich_corrections")
    assert ents(doc) == [("Mülheim an der Ruhr", "LOC")]


# --- persons ------------------------------------------------------------------------


def test_greetings_titles_and_roles_are_cut_off_model_persons(rules_nlp):
    doc = with_model_ents(
        rules_nlp,
        "Hallo Herr Dr. Brehmer, sagte Bürgermeisterin Anke Vollmert.",
        [("Hallo Herr Dr. Brehmer", "PER"), ("Bürgermeisterin Anke Vollmert", "PER")],
    )
    doc = run_components(rules_nlp, doc)
    persons = [e for e in doc.ents if e.label_ == "PER"]
    assert [p.text for p in persons] == ["Brehmer", "Anke Vollmert"]
    assert persons[0]._.titles == ("Herr", "Dr.")
    assert persons[1]._.roles == ("Bürgermeisterin",)


def test_persons_the_model_missed(rules_nlp):
    doc = rules_nlp("Stadtrat Andreas Merkendorf und Frau Weißkopf trafen Jürgen Weiß in der Halle.")
    assert {("Andreas Merkendorf", "PER"), ("Weißkopf", "PER"), ("Jürgen Weiß", "PER")} <= set(ents(doc))


def test_given_names_of_many_countries_also_without_diacritics_or_code_page_damaged(rules_nlp):
    for name in ("Şeyma Aksoy", "Seyma Aksoy", "Þeyma Aksoy", "Büşra Aydın", "Busra Aydin"):
        doc = rules_nlp(f"Das Treffen leitet {name} vom Vorstand.")
        assert ents(doc) == [(name, "PER")], name


def test_a_given_name_before_a_model_person_joins_it(rules_nlp):
    doc = with_model_ents(rules_nlp, "Es sprach Franziska Michels.", [("Michels", "PER")])
    doc = run_components(rules_nlp, doc)
    assert ("Franziska Michels", "PER") in ents(doc)


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


# --- places ----------------------------------------------------------------------------


def test_ambiguous_place_names_need_context(rules_nlp):
    listed = rules_nlp("Beteiligt sind Bochum, Essen und Witten.")
    assert {("Bochum", "LOC"), ("Essen", "LOC"), ("Witten", "LOC")} <= set(ents(listed))
    food = rules_nlp("Das Essen war gut und die Ruhe tat allen wohl.")
    assert ("Essen", "LOC") not in ents(food)


def test_long_place_names_genitives_and_adjectives(rules_nlp):
    doc = rules_nlp("Gäste aus Mülheim an der Ruhr trafen Dortmunder Vereine und Hernes Bürgermeister.")
    assert {("Mülheim an der Ruhr", "LOC"), ("Dortmunder", "LOC"), ("Hernes", "LOC")} <= set(ents(doc))


def test_venue_is_a_place(rules_nlp):
    doc = rules_nlp("Die Tagung fand im Kongresszentrum Westfalenhallen statt.")
    assert ("Kongresszentrum Westfalenhallen", "LOC") in ents(doc)


# --- organisations -------------------------------------------------------------------


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


def test_a_body_named_by_its_kind_after_an_article_also_misspelt(rules_nlp):
    doc = rules_nlp(
        "Der Integrationsrat tagt. Die Mitglieder des Integartionsrates und das Jobcenter beraten, "
        "der Sozialausschuss entscheidet."
    )
    assert ents(doc) == [("Integrationsrat", "ORG"), ("Integartionsrates", "ORG"), ("Jobcenter", "ORG")]
    assert ents(rules_nlp("Ein Integrationsrat fehlt, die Integrationsratswahl und der Stadtrat auch.")) == []


def test_an_organisation_name_ends_before_a_person_in_apposition(rules_nlp):
    doc = rules_nlp("Die Vorsitzende des Seniorenbeirates, Giulia Bianchi, eröffnete den Abend.")
    assert ents(doc) == [("Seniorenbeirates", "ORG"), ("Giulia Bianchi", "PER")]


def test_organisation_names_with_inflected_adjectives(rules_nlp):
    doc = rules_nlp("Die Leiterin des Kommunalen Integrationszentrums der Stadt Hagen kam.")
    found = set(ents(doc))
    assert ("Kommunalen Integrationszentrums", "ORG") in found
    assert ("Stadt Hagen", "ORG") in found


# --- merging proposals ---------------------------------------------------------------


def test_a_proposal_replaces_only_spans_it_contains(rules_nlp):
    doc = rules_nlp.make_doc("Die Stadt Bochum und Anna Berg")
    model = [Span(doc, 2, 3, label="LOC"), Span(doc, 4, 6, label="PER")]
    proposals = [Span(doc, 1, 3, label="ORG"), Span(doc, 3, 5, label="ORG")]
    merged = merge_proposals(model, proposals)
    assert [(s.text, s.label_, s._.label_source) for s in merged] == [
        ("Stadt Bochum", "ORG", "rule"),
        ("Anna Berg", "PER", "model"),
    ]


def test_candidates_are_consumed(rules_nlp):
    doc = rules_nlp("Die Stadt Bochum lädt ein.")
    assert list(doc.spans[CANDIDATES_KEY]) == []
    assert ("Stadt Bochum", "ORG") in ents(doc)


# --- document-level propagation ------------------------------------------------------


def test_a_full_name_licenses_surname_genitive_and_lower_case_forms(rules_nlp):
    doc = with_model_ents(
        rules_nlp,
        "Bürgermeister Jonas Brehmer eröffnete. Brehmer lobte alle. Brehmers Rede kam an. Foto: jonas brehmer",
        [("Jonas Brehmer", "PER")],
    )
    doc = run_components(rules_nlp, doc)
    assert {("Brehmer", "PER"), ("Brehmers", "PER"), ("jonas brehmer", "PER")} <= set(ents(doc))


def test_apostrophe_genitive_of_a_surname_ending_in_z(rules_nlp):
    doc = with_model_ents(rules_nlp, "Ayla Kuntz sprach. Kuntz’ Bilanz fiel gut aus.", [("Ayla Kuntz", "PER")])
    doc = run_components(rules_nlp, doc)
    assert ("Kuntz’", "PER") in ents(doc)


def test_a_surname_that_is_a_place_name_is_the_person_except_after_a_preposition(rules_nlp):
    doc = with_model_ents(
        rules_nlp,
        "Jonas Soest leitet das Projekt. Soest sagte, die Gruppe treffe sich in Soest.",
        [("Jonas Soest", "PER"), ("Soest", "LOC", 1), ("Soest", "LOC", 2)],
    )
    doc = run_components(rules_nlp, doc)
    labels = [(e.text, e.label_) for e in doc.ents]
    assert labels == [("Jonas Soest", "PER"), ("Soest", "PER"), ("Soest", "LOC")]


def test_an_abbreviation_defined_in_the_text_is_the_organisation(rules_nlp):
    doc = rules_nlp(
        "Das Kommunale Integrationszentrum (KI) berät. Später lud das KI ein; KI-gestützte Werkzeuge halfen."
    )
    found = [(e.text, e.label_) for e in doc.ents]
    assert found.count(("KI", "ORG")) == 2
    assert ("KI-gestützte", "ORG") not in found


def test_a_repeated_multi_word_name_is_found_again(rules_nlp):
    doc = with_model_ents(
        rules_nlp,
        "Der Bund Deutscher Pfadfinder lud ein. Beim Bund Deutscher Pfadfinder war es voll.",
        [("Bund Deutscher Pfadfinder", "ORG")],
    )
    doc = run_components(rules_nlp, doc)
    assert [e.text for e in doc.ents if e.label_ == "ORG"] == ["Bund Deutscher Pfadfinder"] * 2


# --- press-text forms added for real archives ----------------------------------------


def test_inverted_names_in_a_contact_block(rules_nlp):
    doc = rules_nlp("Pressekontakt:\nBrehmer, Jonas\nTelefon 0231 50-12345")
    assert ("Brehmer, Jonas", "PER") in ents(doc)


def test_a_name_split_by_a_slash_in_a_photo_credit(rules_nlp):
    doc = with_model_ents(rules_nlp, "Foto: Stadt Bochum/Anna Weber", [("Bochum/Anna", "LOC")])
    doc = run_components(rules_nlp, doc)
    assert ("Anna Weber", "PER") in ents(doc) and ("Stadt Bochum", "ORG") in ents(doc)


def test_districts_no_gazetteer_lists_after_a_preposition_of_place(rules_nlp):
    doc = rules_nlp("Das Café in Wischlingen und die Beratung in der Nordstadt laufen; in der Kita auch.")
    found = set(ents(doc))
    assert {("Wischlingen", "LOC"), ("Nordstadt", "LOC")} <= found
    assert ("Kita", "LOC") not in found


def test_qualified_bodies_departments_and_their_short_forms(rules_nlp):
    doc = rules_nlp(
        "Der Seniorenrat der Stadt Hagen tagte mit dem Fachbereich Soziales. "
        "Vorsitzende des Seniorenrates ist seit Mai eine Ärztin; der Seniorenrat lädt ein."
    )
    found = [(e.text, e.label_) for e in doc.ents]
    assert ("Stadt Hagen", "ORG") in found and ("Fachbereich Soziales", "ORG") in found
    assert found.count(("Seniorenrat", "ORG")) == 2 and ("Seniorenrates", "ORG") in found
    assert ("Mai", "LOC") not in found


def test_a_body_with_its_place_appended_and_a_place_adjective_before_it(rules_nlp):
    doc = with_model_ents(
        rules_nlp,
        "Das Jobcenter Kreis Soest und das Hagener Jobcenter helfen.",
        [("Kreis Soest", "ORG"), ("Hagener Jobcenter", "ORG")],
    )
    doc = run_components(rules_nlp, doc)
    found = set(ents(doc))
    assert {("Jobcenter Kreis Soest", "ORG"), ("Hagener", "LOC"), ("Jobcenter", "ORG")} <= found


def test_named_venues_and_the_place_in_a_venue_name(rules_nlp):
    doc = rules_nlp("Die Feier fand im Festsaal des Bahnhofs Wischlingen statt, später im Fritz-Henßler-Haus.")
    found = set(ents(doc))
    assert {("Bahnhofs Wischlingen", "LOC"), ("Fritz-Henßler-Haus", "LOC")} <= found
    assert ("Wischlingen", "LOC") in {(s.text, s.label_) for s in doc.spans[NESTED_KEY]}
    assert not any(label == "PER" for _, label in found)


def test_an_association_keeps_its_own_head_but_not_a_descriptor(rules_nlp):
    doc = rules_nlp(
        "Die Migrantenorganisation Ararat e.V. und der Deutsch-Polnische Kulturverein Hagen e.V. luden ein."
    )
    found = set(ents(doc))
    assert ("Ararat e.V.", "ORG") in found
    assert ("Deutsch-Polnische Kulturverein Hagen e.V.", "ORG") in found


ORGANISATION_RULE_TEXTS = [
    "Es luden Stadt Witten und der Verein Kulturbrücke Witten e.V. ein.",  # body prefix, legal form
    "Die Städtekooperation „Ruhr Vernetzt“ und Fachbereich Jugend starten.",  # quoted name, department
    "Die Mitglieder des Integartionsrates tagten im Fritz-Henßler-Haus.",  # body by kind, named venue
    "Die Leiterin des Kommunalen Integrationszentrums der Stadt Hagen kam zur Stadthalle Hagen.",  # org and venue heads
]


def test_the_organisation_finder_skips_only_words_where_no_rule_can_start(rules_nlp):
    """The finder looks at a word only when it follows a definite article or passes its
    remembered word test; every token where proposals_at proposes something must pass."""
    finder = rules_nlp.get_pipe("presseabgleich_organisations")
    proposing = []
    for text in ORGANISATION_RULE_TEXTS:
        doc = run_components(rules_nlp, rules_nlp.make_doc(text), upto="presseabgleich_places")
        for token in doc:
            if finder.proposals_at(doc, token):
                after_article = token.i > 0 and doc[token.i - 1].lower_ in DEFINITE_ARTICLES
                proposing.append((text, token.text, after_article or finder.may_start_proposal(token.text)))
    # every rule's first word; only the body named by its kind needs the article before it
    words = {word for _, word, _ in proposing}
    assert {
        "Stadt",
        "e.V.",
        "„",
        "Fachbereich",
        "Integartionsrates",
        "Fritz-Henßler-Haus",
        "Stadthalle",
        "Integrationszentrums",
    } <= words
    assert [p for p in proposing if not p[2]] == []
