"""Stage 5, report: everything a reviewer must look at, as CSV and one HTML page.

Two kinds of items, open ones first, decided ones after:
- discrepancies: one per entity whose surface forms differ in a way that matters
    encoding         a form is code-page or mojibake damage (Aslý for Aslı)
    typo             one or two letters differ (Lüngen / Längen)
    spelling         larger differences between forms of one entity
    transliteration  ü/ue, ß/ss written differently in names
    diacritic        a form lacks the diacritics another has (Asli / Aslı)
  Benign differences (titles, genitive, adjective forms, abbreviations,
  surname-only references spelt like the full name, short forms, ü/ue in e-mail
  addresses) are not
  reported; they stay visible in the variants column of the entity tables. Also
  `conflicting role` / `conflicting affiliation` (documents of the same year give
  a person roles that share nothing, abbreviations and feminine forms counted as
  the same word; a role that changed over the years is not a conflict) and
  `conflicting date` (a named event dated differently).
- possible duplicates: pairs of entities that may be one (resolve's candidate
  pairs that were not merged), with the evidence for and against.
Every item has a stable ID (keyed by its entities and forms), the exact `review`
command that decides it and the decisions.csv row it appends.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from rapidfuzz.distance import Levenshtein

from pipeline.export import DISCREPANCIES_FILE, flatten_lists, write_csv
from pipeline.gazetteers import load_gazetteers
from pipeline.ingest import DOCUMENTS_FILE, GERMAN_MONTHS
from pipeline.io import is_in, read_columns, read_parquet, write_parquet_atomic, write_text_atomic
from pipeline.normalize import fold_din, fold_plain, is_ascii_folding_of
from pipeline.resolve import CANDIDATES_FILE, ENTITIES_FILE, FACTS_FILE, MENTION_ENTITIES_FILE
from pipeline.resolve.forms import acronym_of, place_stripped_key
from pipeline.resolve.pairs import STOP_ROLE_WORDS, hyphen_fold, skeleton
from pipeline.show import write_pages
from pipeline.stage_files import MENTIONS_FILE

DISCREPANCIES_CSV = "discrepancies.csv"
DISCREPANCIES_HTML = "discrepancies.html"
DUPLICATES_CSV = "possible_duplicates.csv"
SEVERITY = ("encoding", "typo", "spelling", "transliteration", "diacritic")
NAME_KINDS = frozenset(SEVERITY)
COLUMNS = [
    "discrepancy_id",
    "status",
    "entity_id",
    "type",
    "kind",
    "variants",
    "where_seen",
    "suggested",
    "why",
    "confidence",
    "decision",
    "canonical_name",
    "forms",
]
STOP_WORDS = STOP_ROLE_WORDS | {"mit", "und"}
WORD = re.compile(r"\w+")
CONSONANTS = re.compile(r"[aeiouy]")
DASH = re.compile(
    r"\w[–—]\w"
)  # a dash between two letters, where a hyphen belongs  # what is left after removing vowels
DATE_IN_TEXT = re.compile(
    rf"\b(\d{{1,2}})\.\s*(?:({'|'.join(GERMAN_MONTHS)})|(\d{{1,2}})\.)\s*(\d{{4}})\b", re.IGNORECASE
)
ROLE_ABBREVIATIONS = {"ob": "oberbürgermeister", "bgm": "bürgermeister", "stv": "stellvertretend", "vors": "vorsitz"}
STRAY_SURNAME_SIMILARITY = 0.6  # "Längen"/"Lüngen" 0.83, "Kilic"/"Kılıç" 1.0, "Unna"/"Brehmer" 0
MENTIONS_SHOWN = 30  # per entity in the page's mention lists (all of them are in mentions.csv)


def item_id(prefix: str, *parts: str) -> str:
    """Stable ID of a report item: the same in every run while its entities and forms stay."""
    return prefix + hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


def pair_kind(a: str, b: str) -> str:
    """Kind of difference between two normalised forms of one entity."""
    if is_ascii_folding_of(a, b) or is_ascii_folding_of(b, a) or fold_plain(a) == fold_plain(b):
        return "diacritic"
    if fold_din(a) == fold_din(b):
        return "transliteration"
    if hyphen_fold(a) == hyphen_fold(b):
        return "spelling"  # hyphen, dash or space between parts of a name
    plain_a, plain_b = fold_plain(a), fold_plain(b)
    distance = Levenshtein.distance(plain_a, plain_b)
    if (
        skeleton(a) == skeleton(b)
        and CONSONANTS.sub("", plain_a) != CONSONANTS.sub("", plain_b)
        and not (distance == 1 and len(plain_a) != len(plain_b))
    ):
        return "transliteration"  # "Kusnezowa" / "Kuznetsova", "Konstantinos" / "Konstandinos"
    return "typo" if distance <= 2 else "spelling"


@dataclass(frozen=True)
class Surface:
    """What the report needs of one mention of an entity."""

    text: str
    normalised: str
    key: str
    normalisation: str
    repaired: str
    doc_id: str


def _distinct_forms(type_: str, surfaces: list[Surface]) -> list[str]:
    """Normalised forms that name the entity in full: no surname-only references,
    no short forms that another form extends. Places and organisations whose
    matching keys agree (abbreviation expanded, ü/ue folded) count as one form."""
    full = [s for s in surfaces if s.normalisation != "surname only"]
    if type_ in {"LOC", "ORG"}:
        by_key: dict[tuple[str, bool], str] = {}
        for surface in sorted(full, key=lambda s: s.normalised):
            # a dash for a hyphen ("Deutsch–Türkischer") matches in the key but is a spelling to check
            by_key.setdefault((surface.key, bool(DASH.search(surface.normalised))), surface.normalised)
        forms = sorted(set(by_key.values()))
    else:
        forms = sorted({s.normalised for s in full})
    return [f for f in forms if not any(o != f and _is_short_for(f, o) for o in forms)]


def _is_short_for(short: str, long: str) -> bool:
    """A benign other form: a short form ("Mülheim" of "Mülheim an der Ruhr"), an
    abbreviation ("KI Bochum" of "Kommunales Integrationszentrum Bochum") or a
    genitive ("Serap Gülers" of "Serap Güler")."""
    if long.startswith(short + " ") or long.endswith(" " + short):
        return True
    if any(short == long + ending for ending in ("s", "'", "’", "es")):
        return True
    short_words, long_words = short.split(), long.split()
    if (  # a middle initial dropped: "Claudia Reuter" of "Claudia M. Reuter"
        len(short_words) == 2
        and len(long_words) > 2
        and short_words == [long_words[0], long_words[-1]]
        and all(len(w.rstrip(".")) == 1 for w in long_words[1:-1])
    ):
        return True
    while len(short_words) > 1 and len(long_words) > 1 and short_words[-1] == long_words[-1]:
        short_words, long_words = short_words[:-1], long_words[:-1]
    if len(short_words) != 1:
        return False
    without_place = place_stripped_key(" ".join(long_words), load_gazetteers())[0]  # "KI" of "… Kreis Unna"
    return acronym_of(short_words[0], " ".join(long_words)) or acronym_of(short_words[0], without_place)


def _closest_pair(a: str, b: str, keys: dict[str, str]) -> tuple[str, str]:
    """The two forms to compare for `a` and `b`: each or one of its short forms (by
    form or matching key: "Volkshochschule" of "VHS Recklinghausen"), where they are
    closest. "Integartionsrat" is a typo of "Integrationsrat", the short form of
    "Integrationsrat Dortmund", not a different spelling of the long one."""

    def family(form: str) -> list[str]:
        key = keys.get(form, form)
        return [form] + sorted(
            f for f, k in keys.items() if f != form and (_is_short_for(f, form) or k == key or _is_short_for(k, key))
        )

    family_a, family_b = family(a), family(b)
    return min(
        ((x, y) for x in family_a for y in family_b if x != y),
        key=lambda p: Levenshtein.distance(fold_plain(p[0]), fold_plain(p[1])),
        default=(a, b),
    )


def _full_name_surnames(surfaces: list[Surface]) -> set[str]:
    return {s.normalised.split()[-1] for s in surfaces if s.normalisation != "surname only" and s.normalised}


def _could_be_written_for(short: str, surname: str) -> bool:
    """Close enough to be the same surname misspelt; a surname-only link to a very
    different word ("Unna" for "Brehmer") is an extraction slip, not a spelling."""
    a, b = fold_plain(short).lower(), fold_plain(surname).lower()
    return Levenshtein.normalized_similarity(a, b) >= STRAY_SURNAME_SIMILARITY


def _stray_surnames(surfaces: list[Surface], surnames: set[str]) -> list[str]:
    """Surname-only references written unlike every full name's surname ("Kilic" for
    "Ümran Kılıç", "Längen" for "Uwe Lüngen"); a genitive ("Kochs") or one part of a
    double name ("Öztürk" of "Öztürk-Becker") is no discrepancy."""
    shorts = {s.normalised for s in surfaces if s.normalisation == "surname only" and s.normalised}
    return sorted(
        short
        for short in shorts
        if any(_could_be_written_for(short, n) for n in surnames)
        and not any(
            short == n or short in n.split("-") or _is_short_for(short, n) or _is_short_for(n, short) for n in surnames
        )
    )


def classify(entity: Any, surfaces: list[Surface]) -> dict[str, Any] | None:
    """The discrepancy of one entity (a row of entities.parquet), or None when all
    differences are benign."""
    kinds: list[str] = []
    notes: list[str] = []
    damaged = {s.text: s.repaired for s in surfaces if s.repaired in {"codepage", "mojibake"}}
    if damaged:
        kinds.append("encoding")
        for text, repair in sorted(damaged.items()):
            if repair == "codepage":
                notes.append(
                    f"{text!r} shows Turkish letters (ı ş ğ İ Ş Ğ) as Windows-1252 (ý þ ð Ý Þ Ð): code-page damage"
                )
            else:
                notes.append(f"{text!r} is UTF-8 read as Latin-1 (mojibake)")
    forms = _distinct_forms(entity.type, surfaces)
    keys = {s.normalised: s.key for s in surfaces if s.normalisation != "surname only"}
    pairs = [_closest_pair(a, b, keys) for i, a in enumerate(forms) for b in forms[i + 1 :]]
    if entity.type == "PER":
        surnames = _full_name_surnames(surfaces)
        for short in _stray_surnames(surfaces, surnames):
            closest = min(sorted(surnames), key=lambda n: Levenshtein.distance(fold_plain(short), fold_plain(n)))
            pairs.append((closest, short))
            forms.append(short)
    for a, b in pairs:
        kind = pair_kind(a, b)
        kinds.append(kind)
        if kind == "diacritic":
            plain, accented = (a, b) if a.isascii() else (b, a)
            notes.append(f"{plain!r} is {accented!r} without its diacritics")
        elif kind == "transliteration":
            notes.append(f"{a!r} and {b!r} differ in ü/ue, ß/ss")
        else:
            distance = Levenshtein.distance(fold_plain(a), fold_plain(b))
            notes.append(f"{a!r} and {b!r} differ by {distance} letter(s)")
    if not kinds:
        return None
    kind = min(kinds, key=SEVERITY.index)
    status = entity.canonical_status
    counts = Counter(s.normalised for s in surfaces)
    if status == "undecided":
        why = (
            "; ".join(notes)
            + f"; the texts give no majority ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}), a reviewer decides"
        )
        suggested, confidence = "", 0.5
    else:
        why = "; ".join(notes) + f"; suggested because: {entity.canonical_reason}"
        suggested = entity.canonical_name
        top = max(counts.values())
        confidence = {"repaired": 0.9, "decided": 1.0}.get(
            status, round(min(0.95, 0.5 + 0.5 * top / sum(counts.values())), 2)
        )
    return {
        "kind": kind,
        "suggested": suggested,
        "why": why,
        "confidence": confidence,
        "forms": json.dumps(forms or sorted(damaged), ensure_ascii=False),
    }


def _role_stem(word: str) -> str:
    """ "Oberbürgermeisterin", "OB" and "Oberbürgermeister" compare as one word."""
    lower = ROLE_ABBREVIATIONS.get(word.lower().rstrip("."), word.lower())
    for ending in ("innen", "in"):
        if lower.endswith(ending) and len(lower) - len(ending) >= 4:
            lower = lower[: -len(ending)]
            break
    for ending in ("er", "e", "r"):
        if lower.endswith(ending) and len(lower) - len(ending) >= 4:
            return lower[: -len(ending)]
    return lower


def _content_words(values: list[str]) -> set[str]:
    return {_role_stem(w) for v in values for w in WORD.findall(v) if w.lower() not in STOP_WORDS and len(w) > 1}


def first_disjoint_pair(words: dict[str, set[str]]) -> tuple[str, str] | None:
    """The first pair of documents (in key order) whose word sets share nothing.
    An inverted index keeps this near-linear for a person named in thousands of
    documents, where comparing every pair would not finish."""
    docs = list(words)
    postings: dict[str, set[str]] = defaultdict(set)
    for doc, doc_words in words.items():
        for word in doc_words:
            postings[word].add(doc)
    for index, a in enumerate(docs):
        sharing: set[str] = set()
        for word in words[a]:
            sharing |= postings[word]
            if len(sharing) == len(docs):
                break
        if len(sharing) < len(docs):
            b = next((b for b in docs[index + 1 :] if b not in sharing), None)
            if b is not None:
                return a, b
    return None


def fact_conflicts(facts: pd.DataFrame, entities: pd.DataFrame, published: dict[str, str]) -> list[dict[str, Any]]:
    """Roles or affiliations of one person in two documents of the same year that share no word."""
    conflicts = []
    names = dict(zip(entities["entity_id"].tolist(), entities["canonical_name"].tolist(), strict=True))
    # values by person and fact, then by document, in the order of the rows (plain dicts:
    # a group-by per person costs more than the comparison)
    grouped: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    keys = facts.dropna(subset=["entity_id", "fact", "doc_id"])
    lists = [keys[c].tolist() for c in ["entity_id", "fact", "doc_id", "value"]]
    for entity_id, fact, doc, value in zip(*lists, strict=True):
        grouped[entity_id, fact][doc].append(value)
    for (entity_id, fact), values_of in sorted(grouped.items()):
        if entity_id not in names:
            continue
        by_doc = {doc: values_of[doc] for doc in sorted(values_of)}
        by_year: dict[str, dict[str, set[str]]] = defaultdict(dict)
        for doc, values in by_doc.items():
            by_year[(published.get(doc) or "")[:4]][doc] = _content_words(values)
        clash = next((c for _, words in sorted(by_year.items()) if (c := first_disjoint_pair(words))), None)
        if clash is None:
            continue
        a, b = clash
        values = sorted({v for vs in by_doc.values() for v in vs})
        conflicts.append(
            {
                "discrepancy_id": item_id("D-", entity_id, f"conflicting {fact}", *values),
                "entity_id": entity_id,
                "type": "PER",
                "kind": f"conflicting {fact}",
                "variants": json.dumps(values, ensure_ascii=False),
                "where_seen": json.dumps({d: " | ".join(v) for d, v in by_doc.items()}, ensure_ascii=False),
                "suggested": "",
                "why": f"{names[entity_id]}: {a} says {' | '.join(by_doc[a])!r}, {b} says {' | '.join(by_doc[b])!r}",
                "confidence": 0.5,
                "canonical_name": names[entity_id],
            }
        )
    return conflicts


def _dates(sentence: str) -> set[str]:
    found = set()
    for day, month_name, month_number, year in DATE_IN_TEXT.findall(sentence):
        month = GERMAN_MONTHS[month_name.lower()] if month_name else int(month_number)
        try:
            found.add(date(int(year), month, int(day)).isoformat())
        except ValueError:
            continue
    return found


def date_conflicts(mentions: pd.DataFrame) -> list[dict[str, Any]]:
    """The same named event (MISC) given different dates in different documents."""
    # each text, document and sentence once: a named event recurs in its sentences
    events = mentions.loc[mentions["label"] == "MISC", ["text", "doc_id", "sentence"]].drop_duplicates()
    by_event: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    names: dict[str, str] = {}
    dates_in: dict[str, set[str]] = {}  # by sentence: most sentences name several events
    for text, doc_id, sentence in zip(*[events[c].tolist() for c in ["text", "doc_id", "sentence"]], strict=True):
        key = fold_din(text)
        names.setdefault(key, text)
        if sentence not in dates_in:
            dates_in[sentence] = _dates(sentence)
        by_event[key][doc_id] |= dates_in[sentence]
    conflicts = []
    for key, per_doc in sorted(by_event.items()):
        dated = {doc: dates for doc, dates in per_doc.items() if dates}
        if len({d for ds in dated.values() for d in ds}) > 1 and len(dated) > 1:
            conflicts.append(
                {
                    "discrepancy_id": item_id("D-", "event", key),
                    "entity_id": "",
                    "type": "MISC",
                    "kind": "conflicting date",
                    "variants": json.dumps(sorted({d for ds in dated.values() for d in ds})),
                    "where_seen": json.dumps({doc: sorted(ds) for doc, ds in sorted(dated.items())}),
                    "suggested": "",
                    "why": f"{names[key]!r} is dated differently: "
                    + "; ".join(f"{doc}: {', '.join(sorted(ds))}" for doc, ds in sorted(dated.items())),
                    "confidence": 0.5,
                    "canonical_name": names[key],
                }
            )
    return conflicts


def _stray_surname_entities(entities: pd.DataFrame, links: pd.DataFrame) -> set[str]:
    """Persons with a surname-only reference that no full name's surname spells the
    same way (its genitive included); found column-wise, like the other candidates."""
    persons = links[is_in(links["entity_id"], entities.loc[entities["type"] == "PER", "entity_id"].tolist())]
    is_short = persons["normalisation"] == "surname only"
    full = persons.loc[~is_short, ["entity_id", "normalised"]]
    known = pd.DataFrame(
        {"entity_id": full["entity_id"], "surname": full["normalised"].str.rsplit(" ", n=1).str[-1]}
    ).drop_duplicates()
    shorts = persons.loc[is_short, ["entity_id", "normalised"]].drop_duplicates()
    shorts = shorts[is_in(shorts["entity_id"], known["entity_id"].tolist())]
    for ending in ("", "s", "es", "'", "’"):
        stem = shorts["normalised"].str.removesuffix(ending) if ending else shorts["normalised"]
        matched = pd.MultiIndex.from_arrays([shorts["entity_id"], stem]).isin(
            pd.MultiIndex.from_frame(known[["entity_id", "surname"]])
        )
        shorts = shorts[~matched]
    return set(shorts["entity_id"].tolist())


def find_discrepancies(
    entities: pd.DataFrame,
    links: pd.DataFrame,
    facts: pd.DataFrame,
    mentions: pd.DataFrame,
    published: dict[str, str] | None = None,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    # Only an entity with two full forms or a damaged one can have a discrepancy (classify
    # finds nothing else): found column-wise, so the mentions of the others are never walked.
    full = links[links["normalisation"] != "surname only"]
    n_forms = full.drop_duplicates(["entity_id", "normalised"])["entity_id"].value_counts()
    damaged = links.loc[links["repaired"].isin(["codepage", "mojibake"]), "entity_id"]
    candidates = (
        set(n_forms.index[n_forms > 1].tolist()) | set(damaged.tolist()) | _stray_surname_entities(entities, links)
    )
    grouped: dict[str, list[Surface]] = defaultdict(list)
    columns = ["entity_id", "text", "normalised", "key", "normalisation", "repaired", "doc_id"]
    surfaces_of = links.loc[is_in(links["entity_id"], candidates), columns]
    for entity_id, *values in zip(*[surfaces_of[c].tolist() for c in columns], strict=True):
        grouped[entity_id].append(Surface(*values))
    for entity in entities[entities["entity_id"].isin(candidates)].itertuples(index=False):
        surfaces = grouped.get(entity.entity_id)
        if not surfaces:
            continue
        found = classify(entity, surfaces)
        if found is None:
            continue
        where_sets: dict[str, set[str]] = defaultdict(set)
        for surface in surfaces:
            where_sets[surface.text].add(surface.doc_id)
        where = {text: sorted(docs) for text, docs in sorted(where_sets.items())}
        rows.append(
            {
                "discrepancy_id": item_id("D-", entity.entity_id, found["kind"], *sorted(where)),
                "entity_id": entity.entity_id,
                "type": entity.type,
                **found,
                "variants": entity.variants,
                "where_seen": json.dumps(where, ensure_ascii=False),
                "canonical_name": entity.canonical_name,
            }
        )
    rows += fact_conflicts(facts, entities, published or {})
    rows += date_conflicts(mentions)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in {"status", "decision"}])
    frame["forms"] = [f if isinstance(f, str) else "[]" for f in frame["forms"]]
    decided = {
        e: made
        for e, d in zip(entities["entity_id"].tolist(), entities["decisions"].tolist(), strict=True)
        if d != "[]" and (made := json.loads(d))  # most entities have no decisions ("[]")
    }
    frame["decision"] = frame["entity_id"].map(lambda e: ", ".join(decided.get(e, [])))
    frame["status"] = ["decided" if d else "open" for d in frame["decision"]]
    frame = frame.sort_values(["status", "type", "kind", "canonical_name", "discrepancy_id"], kind="stable")
    return frame.reindex(columns=COLUMNS).reset_index(drop=True)


# --- the page ------------------------------------------------------------------

TEXTS = {
    "de": {
        "title": "Presseabgleich: zu prüfen",
        "summary": "{open} offene Abweichungen, {pairs} mögliche Dubletten; {decided} bereits entschieden.",
        "how": "Entscheiden Sie mit dem angegebenen Befehl oder tragen Sie die Zeile in die Entscheidungsdatei ein ({file}). Sie gilt ab dem nächsten Lauf.",
        "discrepancies": "Abweichende Schreibweisen",
        "duplicates": "Mögliche Dubletten",
        "mentions": "Fundstellen",
        "suggested": "Vorschlag",
        "undecided": "— offen: die Texte sagen nicht, welche Form richtig ist",
        "confidence": "Sicherheit",
        "decision": "Entscheidung",
        "command": "Befehl",
        "row": "Zeile für die Entscheidungsdatei",
        "for": "Dafür spricht",
        "against": "Dagegen spricht",
        "score": "Punktzahl",
        "forms": "Formen",
        "all_mentions": "alle Fundstellen",
        "more": "… und {n} weitere in mentions.csv",
        "none": "Nichts zu prüfen: jede Entität ist überall gleich geschrieben, und es gibt keine möglichen Dubletten.",
        "status": {"open": "offen", "unsure": "unsicher", "decided": "entschieden"},
        "same": "gleich",
        "not_same": "nicht gleich",
        "in": "in",
        "in_text": "im Text zeigen",
        "document_page": "Dokument mit allen Erwähnungen",
    },
    "en": {
        "title": "Presseabgleich: to review",
        "summary": "{open} open discrepancies, {pairs} possible duplicates; {decided} already decided.",
        "how": "Decide with the command shown, or add the row to the decisions file ({file}). It applies from the next run.",
        "discrepancies": "Differing spellings",
        "duplicates": "Possible duplicates",
        "mentions": "Mentions",
        "suggested": "Suggested",
        "undecided": "— undecided: the texts cannot say which form is right",
        "confidence": "confidence",
        "decision": "decision",
        "command": "Command",
        "row": "Row for the decisions file",
        "for": "For",
        "against": "Against",
        "score": "score",
        "forms": "forms",
        "all_mentions": "all mentions",
        "more": "… and {n} more in mentions.csv",
        "none": "Nothing to review: every entity is written the same way everywhere, and there are no possible duplicates.",
        "status": {"open": "open", "unsure": "unsure", "decided": "decided"},
        "same": "same",
        "not_same": "not the same",
        "in": "in",
        "in_text": "show in the text",
        "document_page": "document with all mentions",
    },
}


def _quote(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"' if re.search(r"[\s\"'$`\\;&|<>()]", value) else value


def decision_commands(kind: str, **values: str) -> list[tuple[str, str]]:
    """(review command, decisions.csv row) for each way to decide an item."""
    if kind == "pair":
        a, b = values["entity_a"], values["entity_b"]
        return [
            (f"presseabgleich review {action} {a} {b}", f";{action};{a};{b};;;;") for action in ("same", "not-same")
        ]
    entity_id = values["entity_id"]
    commands = []
    if values.get("suggested"):
        commands.append((f"presseabgleich review accept {entity_id}", f";accept;{entity_id};{values['suggested']};;;;"))
    for form in values.get("forms", []):
        if form != values.get("suggested"):
            commands.append(
                (f"presseabgleich review rename {entity_id} {_quote(form)}", f";rename;{entity_id};{form};;;;")
            )
    return commands


def file_link(relative: str) -> str:
    """A relative link to a file whatever its name: percent-encoded ("#", "%", spaces
    would end or garble the link) and starting with "./" or "../", so a file called
    "javascript:…" is a file, never a script."""
    quoted = quote(relative, safe="/")
    return quoted if quoted.startswith(("./", "../")) else "./" + quoted


def show_link(page: str, mention_id: str = "") -> str:
    """The link to a document's page (`presseabgleich show`; `page` relative to the report),
    at one mention's mark. The fragment is percent-encoded (a mention ID holds its doc_id:
    "#", spaces, umlauts); browsers decode it before they look for the id."""
    from pipeline.show import mention_anchor

    return file_link(page) + (f"#{quote(mention_anchor(mention_id), safe='')}" if mention_id else "")


class SourceLinks(Mapping[str, str]):
    """doc_id → the relative link from the processed folder to the document's source file,
    made when the page first asks for it: the page links to few of a corpus's documents."""

    def __init__(self, documents: pd.DataFrame, raw_dir: Path, processed_dir: Path) -> None:
        self._sources = dict(zip(documents["doc_id"].tolist(), documents["source_path"].tolist(), strict=True))
        self._raw_dir, self._processed_dir = os.fspath(raw_dir), os.path.abspath(processed_dir)
        self._links: dict[str, str] = {}

    def __getitem__(self, doc_id: str) -> str:
        if doc_id not in self._links:
            source = os.path.join(self._raw_dir, self._sources[doc_id])
            self._links[doc_id] = file_link(os.path.relpath(source, self._processed_dir).replace(os.sep, "/"))
        return self._links[doc_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("pipeline", "review/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _marked(sentence: str, text: str) -> tuple[str, str, str]:
    start = sentence.find(text)
    if start < 0:
        return sentence, "", ""
    return sentence[:start], text, sentence[start + len(text) :]


def render_html(
    discrepancies: pd.DataFrame,
    links: pd.DataFrame,
    documents: pd.DataFrame,
    doc_links: Mapping[str, str],
    duplicates: pd.DataFrame | None = None,
    language: str = "de",
    decisions_file: str = "data/decisions.csv",
    show_pages: dict[str, str] | None = None,
) -> str:
    """A self-contained page (no scripts, no network); every value is escaped by Jinja2.
    `doc_links`: doc_id → relative link to its source file; `show_pages`: doc_id → its
    page (`presseabgleich show`) relative to the report, where each mention has an anchor."""
    show_pages = show_pages or {}
    duplicates = duplicates if duplicates is not None else pd.DataFrame(columns=["pair_id", "status"])
    texts = TEXTS.get(language, TEXTS["de"])
    titles = dict(zip(documents["doc_id"].tolist(), documents["title"].tolist(), strict=True)) if len(documents) else {}
    wanted = set(discrepancies["entity_id"]) | set(duplicates.get("entity_a", [])) | set(duplicates.get("entity_b", []))
    mentions_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    counts: Counter = Counter()
    first_by_variant: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    links = links[is_in(links["entity_id"], wanted)]
    mention_ids = links["mention_id"].tolist() if "mention_id" in links else [""] * len(links)
    lists = [links[c].tolist() for c in ["entity_id", "text", "doc_id", "sentence"]]
    for entity_id, text, doc_id, sentence, mention_id in zip(*lists, mention_ids, strict=True):
        counts[entity_id] += 1
        first = first_by_variant[entity_id]
        if counts[entity_id] > MENTIONS_SHOWN and text in first:
            continue  # shown neither in the list nor as the first of its form
        page = show_pages.get(doc_id)
        mention = {
            "doc": doc_id,
            "title": titles.get(doc_id) or doc_id,
            "href": doc_links.get(doc_id, ""),
            "show": show_link(page, mention_id) if page else "",
            "parts": _marked(sentence, text),
        }
        if counts[entity_id] <= MENTIONS_SHOWN:
            mentions_of[entity_id].append(mention)
        first.setdefault(text, mention)
    cards = []
    for row in discrepancies.itertuples(index=False):
        forms = json.loads(row.forms) if row.forms else []
        title = row.canonical_name if row.suggested or not forms else " / ".join(forms)
        where = [] if row.entity_id else list(json.loads(row.where_seen).items())
        cards.append(
            {
                "row": row,
                "title": title,
                "variants": sorted(first_by_variant.get(row.entity_id, {}).items()) if row.entity_id else [],
                "where": [
                    (d, doc_links.get(d, ""), show_link(show_pages[d]) if d in show_pages else "", v) for d, v in where
                ],
                "commands": decision_commands("entity", entity_id=row.entity_id, suggested=row.suggested, forms=forms)
                if row.entity_id and row.status == "open" and row.kind in NAME_KINDS
                else [],
            }
        )
    pair_cards = [
        {
            "row": row,
            "evidence": [e for e in str(row.evidence).split(" | ") if e],
            "against": [e for e in str(row.against).split(" | ") if e],
            "commands": decision_commands("pair", entity_a=row.entity_a, entity_b=row.entity_b)
            if row.status != "decided"
            else [],
        }
        for row in duplicates.itertuples(index=False)
    ]
    entities = [
        {"id": e, "mentions": mentions_of[e], "more": max(0, counts[e] - MENTIONS_SHOWN)} for e in sorted(mentions_of)
    ]
    n_open = int((discrepancies["status"] == "open").sum())
    n_pairs = int((duplicates["status"] != "decided").sum()) if len(duplicates) else 0
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            t=texts,
            language=language if language in TEXTS else "de",
            cards=cards,
            pair_cards=pair_cards,
            entities=entities,
            summary=texts["summary"].format(
                open=n_open,
                pairs=n_pairs,
                decided=len(discrepancies) - n_open + (len(duplicates) - n_pairs),
            ),
            how=texts["how"].format(file=decisions_file),
        )
    )


# the columns of the stages' files that the report and the pages use (text read as Arrow:
# the report works on whole columns and walks, as Python lists, only the rows it shows)
COLUMNS_USED = {
    ENTITIES_FILE: "entity_id type canonical_name canonical_status canonical_reason variants decisions".split(),
    MENTION_ENTITIES_FILE: "mention_id doc_id entity_id text normalised key normalisation repaired sentence".split(),
    MENTIONS_FILE: "doc_id mention_id text label start end sentence person_mention_id".split(),
    # not the texts: the document pages read those a row group at a time (write_pages)
    DOCUMENTS_FILE: "doc_id source_path title published issuer content_hash".split(),
}


def run_report(processed_dir: Path, config: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage entry point: entities, links, candidate pairs → discrepancies.csv/.parquet,
    possible_duplicates.csv and discrepancies.html. Returns (discrepancies, duplicates)."""

    def read(name: str, stage: str) -> pd.DataFrame:
        return read_columns(processed_dir / name, stage, COLUMNS_USED[name])

    entities = read(ENTITIES_FILE, "resolve")
    links = read(MENTION_ENTITIES_FILE, "resolve")
    facts = read_parquet(processed_dir / FACTS_FILE, "resolve")
    duplicates = read_parquet(processed_dir / CANDIDATES_FILE, "resolve")
    mentions = read(MENTIONS_FILE, "extract")
    documents = read(DOCUMENTS_FILE, "ingest")
    published = (
        dict(zip(documents["doc_id"].tolist(), documents["published"].tolist(), strict=True)) if len(documents) else {}
    )
    discrepancies = find_discrepancies(entities, links, facts, mentions, published)
    write_parquet_atomic(processed_dir / DISCREPANCIES_FILE, discrepancies)
    dialect = config["export"]["csv_dialect"]
    write_csv(flatten_lists(discrepancies), processed_dir / DISCREPANCIES_CSV, dialect)
    write_csv(duplicates, processed_dir / DUPLICATES_CSV, dialect)
    doc_links = SourceLinks(documents, Path(config["paths"]["raw_dir"]), processed_dir)
    # every document's page (about 1 ms each), so that any page the report links to exists
    show_pages = write_pages(
        processed_dir, documents, mentions, links, entities, report_page=processed_dir / DISCREPANCIES_HTML
    )
    page = render_html(
        discrepancies,
        links,
        documents,
        doc_links,
        duplicates,
        language=config["report"]["language"],
        decisions_file=str(config["paths"]["decisions_file"]),
        show_pages=show_pages,
    )
    write_text_atomic(processed_dir / DISCREPANCIES_HTML, page)
    return discrepancies, duplicates
