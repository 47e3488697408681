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
    """report: discrepancies.csv rows; gold: gold_discrepancies.csv."""
    wanted = gold[gold["kind"] != "benign"]
    wanted_keys = dict(zip(wanted["entity_key"], wanted["kind"], strict=True))
    predicted = report[report["entity_id"] != ""]
    matched = [(row.entity_id, entity_to_key.get(row.entity_id), row.kind) for row in predicted.itertuples(index=False)]
    hits = [m for m in matched if m[1] in wanted_keys]
    found_keys = {m[1] for m in hits}
    benign_reported = [
        m for m in matched if m[1] in set(gold.loc[gold["kind"] == "benign", "entity_key"]) - set(wanted_keys)
    ]
    return {
        **_prf(len(hits), len(predicted), len(found_keys), len(wanted_keys)),
        "kind_agreement": round(sum(1 for m in hits if wanted_keys[m[1]] == m[2]) / len(hits), 4) if hits else 0.0,
        "benign_reported": len(benign_reported),
        "missed": sorted(set(wanted_keys) - found_keys),
    }


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", sep=None, engine="python", dtype=str, keep_default_na=False)


def evaluate_run(processed_dir: Path, gold_dir: Path) -> dict[str, Any]:
    for name in ("gold_mentions.csv", "gold_discrepancies.csv"):
        if not (gold_dir / name).is_file():
            raise FileNotFoundError(f"{gold_dir / name} is missing (gold format: shared/gold-format.md)")
    gold_mentions = _read_csv(gold_dir / "gold_mentions.csv")
    gold_discrepancies = _read_csv(gold_dir / "gold_discrepancies.csv")
    from pipeline.extract import MENTIONS_FILE
    from pipeline.resolve import MENTION_ENTITIES_FILE

    mentions = pd.read_parquet(processed_dir / MENTIONS_FILE)
    links = pd.read_parquet(processed_dir / MENTION_ENTITIES_FILE)
    report = _read_csv(processed_dir / "discrepancies.csv")
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
    return {
        "mentions": score_mentions(mentions, gold_mentions),
        "clusters": score_clusters(joined[["entity_key", "entity_id"]].reset_index(drop=True)),
        "discrepancies": score_discrepancies(report, gold_discrepancies, entity_to_key),
    }


def evaluate_germeval(model_config: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """The NER model alone and with the rule layer on GermEval TSV files."""
    import spacy

    from pipeline.extract import add_rule_layer
    from pipeline.germeval import docs_from_files
    from pipeline.model import load_pipeline, score_docs

    nlp, info = load_pipeline(model_config)
    references = docs_from_files(nlp.vocab, paths)
    press = []
    for doc in references:
        copy = doc.copy()
        copy.ents = [e for e in doc.ents if e.text[:1].isupper()]
        press.append(copy)
    bare = spacy.load(info.path) if info.kind == "trained-fallback" else nlp
    with_rules = add_rule_layer(nlp)
    return {
        "model": info.describe(),
        "files": [p.name for p in paths],
        "model_alone": score_docs(bare, references),
        "model_alone_press_mapping": score_docs(bare, press),
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
        rows.append({"section": f"germeval {setting}", "item": "all", "metric": "f1", "value": scores["f"]})
        for label, values in scores["per_type"].items():
            for metric, key in (("precision", "p"), ("recall", "r"), ("f1", "f")):
                rows.append({"section": f"germeval {setting}", "item": label, "metric": metric, "value": values[key]})
    return pd.DataFrame(rows, columns=["section", "item", "metric", "value"])


def write_results(results: dict[str, Any], processed_dir: Path) -> pd.DataFrame:
    from pipeline.io import write_json_atomic, write_text_atomic

    table = flat_table(results)
    write_json_atomic(processed_dir / "evaluation.json", json.loads(json.dumps(results, default=str)))
    write_text_atomic(processed_dir / "evaluation.csv", "\ufeff" + table.to_csv(index=False))
    return table
