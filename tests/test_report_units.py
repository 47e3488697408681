"""Report helpers without the model."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.review.report import first_disjoint_pair


@given(
    st.dictionaries(
        st.text(alphabet="abcdef", min_size=1, max_size=3),
        st.sets(st.sampled_from(["leiter", "sprecher", "stadt", "hagen", "amt"]), max_size=3),
        max_size=8,
    )
)
@settings(max_examples=300, deadline=None)
def test_first_disjoint_pair_matches_comparing_every_pair(words):
    docs = sorted(words)
    ordered = {doc: words[doc] for doc in docs}
    every_pair = [(a, b) for i, a in enumerate(docs) for b in docs[i + 1 :] if not (ordered[a] & ordered[b])]
    assert first_disjoint_pair(ordered) == (every_pair[0] if every_pair else None)


def test_only_entities_with_two_full_forms_or_damage_are_reported_as_classify_says():
    import pandas as pd

    from pipeline.review.report import Surface, classify, find_discrepancies

    rows = [  # entity, text, normalised, normalisation, repaired
        ("P-1", "Frank Dudda", "Frank Dudda", "", ""),
        ("P-1", "Dudda", "Dudda", "surname only", ""),  # a surname only: one full form
        ("P-2", "Serap Güler", "Serap Güler", "", ""),
        ("P-2", "Serap Gueler", "Serap Gueler", "", ""),  # two full forms
        ("P-3", "Aslý Öz", "Aslı Öz", "", "codepage"),  # one form, damaged
        ("P-4", "Jana Lüngen", "Jana Lüngen", "", ""),
        ("P-4", "Jana Längen", "Jana Längen", "", ""),
        ("P-6", "Ümran Kılıç", "Ümran Kılıç", "", ""),
        ("P-6", "Kilic", "Kilic", "surname only", ""),  # the surname without its diacritics
        ("P-7", "Hans Koch", "Hans Koch", "", ""),
        ("P-7", "Kochs", "Kochs", "surname only", ""),  # a genitive
        ("P-8", "Zeynep Öztürk-Becker", "Zeynep Öztürk-Becker", "", ""),
        ("P-8", "Öztürk", "Öztürk", "surname only", ""),  # one part of a double name
        ("P-9", "Markus Hamm", "Markus Hamm", "", ""),
        ("P-9", "Unna", "Unna", "surname only", ""),  # a wrong link, not a spelling
    ]
    links = pd.DataFrame(
        [
            {"entity_id": e, "text": t, "normalised": n, "key": n.lower(), "normalisation": how, "repaired": r}
            | {"doc_id": f"d{i}", "mention_id": f"m{i}", "sentence": t}
            for i, (e, t, n, how, r) in enumerate(rows)
        ]
    )
    entities = pd.DataFrame(
        {
            "entity_id": [f"P-{i}" for i in range(1, 10)],
            "type": ["PER"] * 9,
            "canonical_name": ["Frank Dudda", "Serap Güler", "Aslı Öz", "Jana Lüngen", "Ohne Erwähnung"]
            + ["Ümran Kılıç", "Hans Koch", "Zeynep Öztürk-Becker", "Markus Hamm"],
            "canonical_status": ["confident"] * 9,
            "canonical_reason": ["majority"] * 9,
            "variants": ["[]"] * 9,
            "decisions": ["[]"] * 9,
        }
    )
    facts = pd.DataFrame(columns=["entity_id", "doc_id", "fact", "value"])
    mentions = pd.DataFrame(columns=["doc_id", "text", "label", "sentence"])
    found = find_discrepancies(entities, links, facts, mentions)
    columns = ["text", "normalised", "key", "normalisation", "repaired", "doc_id"]
    expected = {}
    for entity in entities.itertuples(index=False):
        surfaces = [Surface(*s) for s in links.loc[links["entity_id"] == entity.entity_id, columns].values.tolist()]
        if surfaces and (result := classify(entity, surfaces)) is not None:
            expected[entity.entity_id] = result["kind"]
    assert dict(zip(found["entity_id"], found["kind"], strict=True)) == expected
    assert expected == {"P-2": "diacritic", "P-3": "encoding", "P-4": "typo", "P-6": "diacritic"}
    assert json.loads(found.loc[found["entity_id"] == "P-6", "forms"].item()) == ["Ümran Kılıç", "Kilic"]


def test_a_typo_is_compared_with_the_short_form_it_misspells():
    from types import SimpleNamespace

    from pipeline.review.report import Surface, classify

    entity = SimpleNamespace(
        type="ORG", canonical_status="confident", canonical_reason="majority", canonical_name="Integrationsrat Hagen"
    )
    surfaces = [
        Surface(text, text, key, "", "", "d1")
        for text, key in [
            ("Integrationsrat Hagen", "integrationsrat hagen"),
            ("Integrationsrat", "integrationsrat"),
            ("Integartionsrat", "integartionsrat"),
        ]
    ]
    found = classify(entity, surfaces)
    assert found["kind"] == "typo", found
    assert "'Integartionsrat' and 'Integrationsrat' differ by 2 letter(s)" in found["why"]
