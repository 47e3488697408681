"""Report helpers without the model."""

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
            "entity_id": ["P-1", "P-2", "P-3", "P-4", "P-5"],
            "type": ["PER"] * 5,
            "canonical_name": ["Frank Dudda", "Serap Güler", "Aslı Öz", "Jana Lüngen", "Ohne Erwähnung"],
            "canonical_status": ["confident"] * 5,
            "canonical_reason": ["majority"] * 5,
            "variants": ["[]"] * 5,
            "decisions": ["[]"] * 5,
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
    assert expected == {"P-2": "diacritic", "P-3": "encoding", "P-4": "typo"}
