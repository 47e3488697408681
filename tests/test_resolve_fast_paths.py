"""The resolve stage's fast paths give what the plain definitions give: vectorised
pair tests, forms built from grouped rows, JSON cells joined directly."""

import json
import random
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz

from pipeline.config import load_config
from pipeline.gazetteers import load_gazetteers
from pipeline.normalize import initials_compatible, phonetic
from pipeline.resolve.forms import Form, assign_nodes, build_forms, node_scope, normalise_mentions
from pipeline.resolve.pairs import (
    LONG_WORDS,
    Context,
    Pair,
    PersonNames,
    build_context,
    hyphen_fold,
    person_blocks,
    person_evidence,
    score_person_blocks,
    skeleton,
)
from pipeline.resolve.stage import _json, _json_list

SETTINGS = load_config()["resolve"]
GIVEN = ["Jonas", "J.", "Jonas B.", "Jonás", "Jona", "Mohammad", "Mohammed", "M.", "Aslı", "Asli", "Ayşe", "A."]
SURNAMES = ["Kröger", "Kräger", "Kroeger", "Haddad", "Hadad", "Öztürk-Becker", "Öztürk Becker", "Kusnezowa"]
ROLES = ["Sprecher des Netzwerks", "Kämmerer in Unna", "Oberbürgermeisterin", ""]


def _mentions(n: int, seed: int = 3) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        doc = f"d{i // 4}"
        name = f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}"
        role = rng.choice(ROLES)
        sentence = f"{role} {name} sagte am Montag in {rng.choice(['Unna', 'Hamm'])}: Wir freuen uns."
        rows.append(
            {
                "doc_id": doc,
                "mention_id": f"{doc}#{i:04d}",
                "text": name,
                "label": "PER",
                "start": sentence.find(name),
                "end": sentence.find(name) + len(name),
                "sentence": sentence,
                "titles": rng.choice(["", "Dr.", "Prof. Dr."]),
                "roles": role,
            }
        )
        if i % 3 == 0:
            rows.append({**rows[-1], "mention_id": f"{doc}#{i:04d}o", "text": "Stadt Unna", "label": "ORG"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def corpus() -> tuple[pd.DataFrame, dict[str, Form], Context]:
    gaz = load_gazetteers()
    entity_mentions, _ = normalise_mentions(_mentions(400), gaz)
    entity_mentions["node"], city_names = assign_nodes(entity_mentions, {}, gaz)
    forms = build_forms(entity_mentions, city_names)
    return entity_mentions, forms, build_context(entity_mentions, forms, {})


def _forms_row_by_row(entity_mentions: pd.DataFrame, city_names: dict[str, str]) -> dict[str, Form]:
    """build_forms as one pass over the rows."""
    forms: dict[str, Form] = {}
    for row in entity_mentions.itertuples(index=False):
        form = forms.get(row.node)
        if form is None:
            form = forms[row.node] = Form(
                node=row.node,
                type=row.label,
                display=row.display,
                key=row.key,
                rule=row.rule,
                repaired=row.repaired,
                given=tuple(row.given),
                surname=row.surname,
                city=city_names.get(node_scope(row.node), ""),
            )
        form.surfaces[row.text] += 1
        form.displays[row.display] += 1
        if row.repaired:
            form.repaired_displays.add(row.display)
            form.repaired = form.repaired or row.repaired
        form.docs.add(row.doc_id)
        form.n_mentions += 1
        form.titles.update(row.parsed_titles)
        form.titles.update(t for t in str(row.mention_titles).split() if t)
        form.roles.update(row.parsed_roles)
        form.roles.update(r for r in str(row.mention_roles).split(" | ") if r)
    return forms


def test_forms_from_grouped_rows_equal_the_row_by_row_pass(corpus):
    entity_mentions, forms, _ = corpus
    expected = _forms_row_by_row(entity_mentions, {})
    assert list(forms) == list(expected)  # the order nodes first occur in
    assert forms == expected
    assert {len(f.titles) for f in forms.values()} != {0}  # titles were counted at all


def _person_pairs_one_by_one(names: PersonNames, blocks: list[list[int]], context: Context) -> list[Pair]:
    """The fuzzy person rule pair by pair, as it reads in words."""
    found, seen = [], set()
    for block in blocks:
        for i, x in enumerate(block):
            for y in block[i + 1 :]:
                a, b = names.forms[min(x, y)], names.forms[max(x, y)]
                if (a.node, b.node) in seen or hyphen_fold(a.display) == hyphen_fold(b.display):
                    continue
                seen.add((a.node, b.node))
                same_skeleton = skeleton(a.display) == skeleton(b.display)
                if len(a.given) != len(b.given) or not (initials_compatible(a.given, b.given) or same_skeleton):
                    continue
                name_ratio = fuzz.ratio(hyphen_fold(a.display), hyphen_fold(b.display))
                surname_ratio = fuzz.ratio(hyphen_fold(a.surname), hyphen_fold(b.surname))
                same_sound = phonetic(a.surname) == phonetic(b.surname)
                similar = name_ratio >= SETTINGS["person_name_min_ratio"] and (
                    same_sound or surname_ratio >= SETTINGS["person_surname_min_ratio"]
                )
                if not (similar or same_skeleton):
                    continue
                evidence, against = person_evidence(a, b, context, SETTINGS)
                similarity = f"name ratio {name_ratio:.0f}" + (
                    f", Kölner Phonetik {phonetic(a.surname)}" if same_sound else f", surname ratio {surname_ratio:.0f}"
                )
                if same_skeleton and not similar:
                    similarity += ", same spelling skeleton (transliteration)"
                if len(evidence) >= SETTINGS["person_min_evidence"]:
                    score = min(0.97, SETTINGS["merge_min_score"] + 0.04 * len(evidence))
                else:
                    score = round(0.4 + 0.3 * (name_ratio - 70) / 30, 3)
                    against = ["no evidence in the texts beyond the name", *against]
                found.append(Pair(a.node, b.node, "PER", "similar name", score, [similarity, *evidence], against))
    return found


def _ordered(pairs: list[Pair]) -> list[Pair]:
    return sorted(pairs, key=lambda p: (p.node_a, p.node_b))


def test_person_blocks_scored_at_once_equal_pair_by_pair_in_any_grouping(corpus):
    _, forms, context = corpus
    names = PersonNames.of([f for f in forms.values() if f.type == "PER" and f.given and not f.scope])
    blocks = person_blocks(names, SETTINGS["max_block_size"])
    at_once = _ordered(score_person_blocks(names, blocks, context, SETTINGS))
    assert len(at_once) > 5
    assert at_once == _ordered(_person_pairs_one_by_one(names, blocks, context))
    # a pure function of its blocks: scored one block at a time, in any order, the same pairs
    one_block_each = [p for block in reversed(blocks) for p in score_person_blocks(names, [block], context, SETTINGS)]
    assert _ordered(list({(p.node_a, p.node_b): p for p in one_block_each}.values())) == at_once


def test_vectorised_initials_agree_with_initials_compatible():
    given = [
        ("Jonas",),
        ("J.",),
        ("Jonas", "B."),
        ("J.", "B."),
        ("Jonás", "Bernd"),
        ("K.",),
        (".",),
        ("Aslı",),
        ("Asli",),
    ]
    forms = [
        Form(node=f"PER|{i}", type="PER", display=" ".join(g) + " X", key="", given=g, surname="X")
        for i, g in enumerate(given)
    ]
    names = PersonNames.of(forms)
    pairs = [(i, j) for i in range(len(forms)) for j in range(len(forms)) if len(given[i]) == len(given[j])]
    a, b = np.array([i for i, _ in pairs]), np.array([j for _, j in pairs])
    assert names.initials_compatible(a, b).tolist() == [initials_compatible(given[i], given[j]) for i, j in pairs]


def test_long_words_are_the_word_runs_over_three_characters():
    rng = random.Random(5)
    alphabet = "abcdeäöüß İı-_ .,'1é\u0307"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))).lower()
        assert LONG_WORDS.findall(text) == [w for w in re.findall(r"\w+", text) if len(w) > 3]


def test_json_cells_match_the_json_encoder():
    encoder = json.JSONEncoder(ensure_ascii=False)
    for values in ([], ["b", "a"], ['"Stadt" Unna', "Ä\\ö\n\t\u2028", "\x00"], Counter(["x", "y", "x"])):
        assert _json(values) == encoder.encode(sorted(values))
    assert _json_list(["b", "a"]) == '["b", "a"]'
    assert _json_list([1, "a"]) == encoder.encode([1, "a"])  # not all strings: the encoder writes it
