"""Quality measurement: a run against gold files, and the NER model against GermEval.

Gold files follow `shared/gold-format.md`: gold_mentions.csv (one row per
distinct surface per document), gold_entities.csv, gold_discrepancies.csv.

- Mentions, per type: exact match (same document, same surface, same type) and
  partial match (same document and type, one surface contains the other, e.g.
  "Kommunalen Integrationszentrum" inside "… der Stadt Hagen").
- Clustering, over the gold surfaces the run found: B-cubed and pairwise
  precision/recall/F1 of entity IDs against gold entity keys.
- Discrepancies: a reported discrepancy is right when its entity is a gold
  entity with a non-benign gold discrepancy; kind agreement is reported too.
- NER on GermEval TSV files: exact-span P/R/F1 per type with the mapping of
  germeval.py (deriv → base type, part → O, OTH → MISC), for the model alone
  and for model + rule layer; plus a "press" mapping in which lower-case
  derivations ("deutschen") are not entities, as the tool never reports them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

ENTITY_TYPES = ("PER", "LOC", "ORG")
NAME_KINDS = ("encoding", "typo", "spelling", "transliteration", "diacritic")


def _prf(hits_p: int, n_pred: int, hits_r: int, n_gold: int) -> dict[str, float]:
    p = hits_p / n_pred if n_pred else 0.0
    r = hits_r / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "predicted": n_pred, "gold": n_gold}


def score_mentions(predicted: pd.DataFrame, gold: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """predicted: doc_id, text, label; gold: doc_id, surface, type."""
    scores: dict[str, dict[str, Any]] = {}
    for label in ENTITY_TYPES:
        pred = set(map(tuple, predicted.loc[predicted["label"] == label, ["doc_id", "text"]].drop_duplicates().values))
        want = set(map(tuple, gold.loc[gold["type"] == label, ["doc_id", "surface"]].drop_duplicates().values))
        exact = _prf(len(pred & want), len(pred), len(pred & want), len(want))
        by_doc: dict[str, set[str]] = defaultdict(set)
        for doc, text in want:
            by_doc[doc].add(text)
        pred_by_doc: dict[str, set[str]] = defaultdict(set)
        for doc, text in pred:
            pred_by_doc[doc].add(text)

        def overlaps(a: str, b: str) -> bool:
            return a in b or b in a

        partial_p = sum(1 for doc, text in pred if any(overlaps(text, g) for g in by_doc[doc]))
        partial_r = sum(1 for doc, text in want if any(overlaps(text, p) for p in pred_by_doc[doc]))
        scores[label] = {
            "exact": exact,
            "partial": _prf(partial_p, len(pred), partial_r, len(want)),
            "missed": sorted(f"{d}: {t}" for d, t in want - pred),
            "extra": sorted(f"{d}: {t}" for d, t in pred - want),
        }
    return scores


def score_clusters(items: pd.DataFrame) -> dict[str, Any]:
    """items: one row per gold surface found, with `entity_key` (gold) and `entity_id` (run)."""
    gold_of = dict(enumerate(items["entity_key"]))
    pred_of = dict(enumerate(items["entity_id"]))
    gold_members: dict[str, set[int]] = defaultdict(set)
    pred_members: dict[str, set[int]] = defaultdict(set)
    for i in gold_of:
        gold_members[gold_of[i]].add(i)
        pred_members[pred_of[i]].add(i)
    n = len(gold_of)
    if not n:
        return {"b_cubed": _prf(0, 0, 0, 0), "pairwise": _prf(0, 0, 0, 0), "items": 0}
    b_p = (
        sum(len(pred_members[pred_of[i]] & gold_members[gold_of[i]]) / len(pred_members[pred_of[i]]) for i in gold_of)
        / n
    )
    b_r = (
        sum(len(pred_members[pred_of[i]] & gold_members[gold_of[i]]) / len(gold_members[gold_of[i]]) for i in gold_of)
        / n
    )
    b_f = 2 * b_p * b_r / (b_p + b_r) if b_p + b_r else 0.0
    pred_pairs = {pair for members in pred_members.values() for pair in combinations(sorted(members), 2)}
    gold_pairs = {pair for members in gold_members.values() for pair in combinations(sorted(members), 2)}
    both = len(pred_pairs & gold_pairs)
    return {
        "b_cubed": {"precision": round(b_p, 4), "recall": round(b_r, 4), "f1": round(b_f, 4)},
        "pairwise": _prf(both, len(pred_pairs), both, len(gold_pairs)),
        "items": n,
        "gold_entities_split": sorted(k for k, m in gold_members.items() if len({pred_of[i] for i in m}) > 1),
        "entities_merging_gold": sorted(e for e, m in pred_members.items() if len({gold_of[i] for i in m}) > 1),
    }


def score_discrepancies(report: pd.DataFrame, gold: pd.DataFrame, entity_to_key: dict[str, str]) -> dict[str, Any]:
    """report: discrepancies rows (variants as a JSON list or joined with " | "); gold: gold_discrepancies.csv.

    Recall counts gold discrepancy rows (a pair of variants of one entity) that one report
    row shows with both variants (as written, or as the normalised forms it compares); precision counts reported name discrepancies (encoding,
    typo, spelling, transliteration, diacritic) whose entity has a flagged gold discrepancy."""
    wanted = gold[gold["kind"] != "benign"]
    wanted_keys = dict(zip(wanted["entity_key"], wanted["kind"], strict=False))
    predicted = report[(report["entity_id"] != "") & report["kind"].isin(NAME_KINDS)]
    forms = predicted["forms"] if "forms" in predicted.columns else [""] * len(predicted)
    shown = [set(_variants(v)) | set(_variants(f)) for v, f in zip(predicted["variants"], forms, strict=True)]
    found_rows = [
        any({row.variant_a, row.variant_b} <= variants for variants in shown) for row in wanted.itertuples(index=False)
    ]
    matched = [(row.entity_id, entity_to_key.get(row.entity_id), row.kind) for row in predicted.itertuples(index=False)]
    hits = [m for m in matched if m[1] in wanted_keys]
    benign_keys = set(gold.loc[gold["kind"] == "benign", "entity_key"]) - set(wanted_keys)
    precision = len(hits) / len(predicted) if len(predicted) else 0.0
    recall = sum(found_rows) / len(wanted) if len(wanted) else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "predicted": len(predicted),
        "gold": len(wanted),
        "entities_found": round(len({m[1] for m in hits}) / len(wanted_keys), 4) if wanted_keys else 0.0,
        "kind_agreement": round(sum(1 for m in hits if wanted_keys[m[1]] == m[2]) / len(hits), 4) if hits else 0.0,
        "benign_reported": sum(1 for m in matched if m[1] in benign_keys),
        "missed": sorted(
            f"{row.entity_key}: {row.variant_a} / {row.variant_b}"
            for row, found in zip(wanted.itertuples(index=False), found_rows, strict=True)
            if not found
        ),
        "wrong": sorted(f"{m[0]} ({m[2]})" for m in matched if m[1] not in wanted_keys),
    }


def _variants(value: str) -> list[str]:
    if not value:
        return []
    return json.loads(value) if value.startswith("[") else value.split(" | ")


def score_canonical_names(
    gold_entities: pd.DataFrame, gold_mentions: pd.DataFrame, joined: pd.DataFrame, entities: pd.DataFrame
) -> dict[str, Any]:
    """Persons named in at least two gold documents: does their row carry the gold canonical name?"""
    docs = gold_mentions[gold_mentions["type"] == "PER"].groupby("entity_key")["doc_id"].nunique()
    wanted = gold_entities[gold_entities["entity_key"].isin(docs[docs >= 2].index)]
    names = dict(zip(entities["entity_id"], entities["canonical_name"], strict=True))
    votes = joined.groupby("entity_key")["entity_id"].agg(lambda ids: Counter(ids).most_common(1)[0][0])
    right, wrong = 0, []
    for row in wanted.itertuples(index=False):
        got = names.get(votes.get(row.entity_key, ""), "")
        if got == row.canonical_name:
            right += 1
        else:
            wrong.append(f"{row.entity_key}: {got or '(not found)'} ≠ {row.canonical_name}")
    return {"share": round(right / len(wanted), 4) if len(wanted) else 0.0, "persons": len(wanted), "wrong": wrong}


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", sep=None, engine="python", dtype=str, keep_default_na=False)


def evaluate_run(processed_dir: Path, gold_dir: Path) -> dict[str, Any]:
    for name in ("gold_mentions.csv", "gold_discrepancies.csv"):
        if not (gold_dir / name).is_file():
            raise FileNotFoundError(f"{gold_dir / name} is missing (gold format: shared/gold-format.md)")
    gold_mentions = _read_csv(gold_dir / "gold_mentions.csv")
    gold_discrepancies = _read_csv(gold_dir / "gold_discrepancies.csv")
    from pipeline.resolve import ENTITIES_FILE, MENTION_ENTITIES_FILE
    from pipeline.review.report import DISCREPANCIES_FILE
    from pipeline.stage_files import MENTIONS_FILE

    mentions = pd.read_parquet(processed_dir / MENTIONS_FILE)
    links = pd.read_parquet(processed_dir / MENTION_ENTITIES_FILE)
    report = pd.read_parquet(processed_dir / DISCREPANCIES_FILE)
    joined = gold_mentions.merge(
        links[["doc_id", "text", "entity_id"]].drop_duplicates(),
        left_on=["doc_id", "surface"],
        right_on=["doc_id", "text"],
    )
    joined = joined.drop_duplicates(["doc_id", "surface", "entity_key"])
    votes: dict[str, Counter] = defaultdict(Counter)
    for entity_id, key in zip(joined["entity_id"], joined["entity_key"], strict=True):
        votes[entity_id][key] += 1
    entity_to_key = {e: c.most_common(1)[0][0] for e, c in votes.items()}
    clusters = score_clusters(joined[["entity_key", "entity_id"]].reset_index(drop=True))
    persons = joined[joined["entity_key"].str.startswith("PER:")]
    clusters["rows_with_two_gold_persons"] = sorted(
        e for e, keys in persons.groupby("entity_id")["entity_key"] if keys.nunique() > 1
    )
    result = {
        "mentions": score_mentions(mentions, gold_mentions),
        "clusters": clusters,
        "discrepancies": score_discrepancies(report, gold_discrepancies, entity_to_key),
    }
    if (gold_dir / "gold_entities.csv").is_file():
        entities = pd.read_parquet(processed_dir / ENTITIES_FILE)
        result["canonical_names"] = score_canonical_names(
            _read_csv(gold_dir / "gold_entities.csv"), gold_mentions, joined, entities
        )
    return result


def evaluate_germeval(model_config: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """The NER model on GermEval files (.tsv or .iob2): on the files' own tokens with
    GermEval's official outer-chunk metric and with the pipeline's labels
    (pipeline.model.score_germeval), then the whole pipeline with the rule layer on
    the sentences' text, scored on capitalised names only (press mapping)."""
    from pipeline.extract import add_rule_layer
    from pipeline.germeval import docs_from_files, sentences_from_files
    from pipeline.model import load_pipeline, score_docs, score_germeval

    nlp, info = load_pipeline(model_config)
    model_alone = score_germeval(nlp, sentences_from_files(paths))
    press = []
    for doc in docs_from_files(nlp.vocab, paths, fine=False):
        # lower-case derivations ("deutschen", LOCderiv) are never reported as places by design
        doc.ents = [e for e in doc.ents if e.text[:1].isupper()]
        press.append(doc)
    with_rules = add_rule_layer(nlp)
    return {
        "model": info.describe(),
        "files": [p.name for p in paths],
        **model_alone,
        "with_rules_press_mapping": score_docs(with_rules, press),
    }


def flat_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per (section, item, metric) for CSV output and printing."""
    rows = []
    for label, values in results.get("mentions", {}).items():
        for match in ("exact", "partial"):
            for metric in ("precision", "recall", "f1"):
                rows.append(
                    {"section": f"mentions ({match})", "item": label, "metric": metric, "value": values[match][metric]}
                )
    for method in ("b_cubed", "pairwise"):
        for metric in ("precision", "recall", "f1"):
            if "clusters" in results:
                rows.append(
                    {
                        "section": "clusters",
                        "item": method,
                        "metric": metric,
                        "value": results["clusters"][method][metric],
                    }
                )
    if "canonical_names" in results:
        rows.append(
            {
                "section": "canonical names",
                "item": "persons in ≥ 2 documents",
                "metric": "precision",
                "value": results["canonical_names"]["share"],
            }
        )
    if "discrepancies" in results:
        for metric in ("precision", "recall", "f1", "kind_agreement"):
            rows.append(
                {
                    "section": "discrepancies",
                    "item": "non-benign",
                    "metric": metric,
                    "value": results["discrepancies"][metric],
                }
            )
    for setting, scores in results.get("germeval", {}).items():
        if not isinstance(scores, dict) or "per_type" not in scores:
            continue
        for label, values in {"all": scores, **scores["per_type"]}.items():
            for metric, key in (("precision", "p"), ("recall", "r"), ("f1", "f")):
                rows.append({"section": f"germeval {setting}", "item": label, "metric": metric, "value": values[key]})
    return pd.DataFrame(rows, columns=["section", "item", "metric", "value"])


def write_results(results: dict[str, Any], processed_dir: Path) -> pd.DataFrame:
    from pipeline.io import write_json_atomic, write_text_atomic

    table = flat_table(results)
    write_json_atomic(processed_dir / "evaluation.json", json.loads(json.dumps(results, default=str)))
    write_text_atomic(processed_dir / "evaluation.csv", "\ufeff" + table.to_csv(index=False))
    return table
