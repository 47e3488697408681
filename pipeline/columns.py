"""Column headers of the spreadsheet outputs, in German, and reading those files back.

The Parquet files between stages keep their English column names (the code's
names); every CSV and every workbook sheet a person opens has German headers.
This module is the one place that maps the two, so writers and readers (tests,
`evaluate`, `review list`, the notebook) cannot drift apart.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

GERMAN_HEADERS: dict[str, str] = {
    # entities (people.csv, places.csv, organisations.csv)
    "entity_id": "ID",
    "canonical_name": "Name",
    "canonical_status": "Status des Namens",
    "canonical_reason": "Begründung des Namens",
    "type": "Typ",
    "variants": "Schreibweisen",
    "n_documents": "Anzahl Dokumente",
    "n_mentions": "Anzahl Erwähnungen",
    "first_seen": "Erstes Datum",
    "last_seen": "Letztes Datum",
    "documents": "Dokumente",
    "titles": "Akademische Titel",
    "roles": "Funktionen",
    "affiliations": "Zugehörigkeit",
    "emails": "E-Mail-Adressen",
    "phones": "Telefonnummern",
    "merge_reasons": "Gründe der Zusammenführung",
    "merged_ids": "Übernommene IDs",
    # mentions.csv
    "mention_id": "Erwähnungs-ID",
    "doc_id": "Dokument-ID",
    "text": "Text",
    "normalised": "Normalform",
    "normalisation": "Normalisierung",
    "start": "Anfang",
    "end": "Ende",
    "source_start": "Anfang in der Quelldatei",
    "source_end": "Ende in der Quelldatei",
    "sentence": "Satz",
    # discrepancies.csv
    "discrepancy_id": "Abweichungs-ID",
    "status": "Status",
    "kind": "Art",
    "where_seen": "Fundstellen",
    "suggested": "Vorschlag",
    "why": "Begründung",
    "confidence": "Sicherheit",
    "decision": "Entscheidung",
    # possible duplicates (candidate pairs the evidence did not merge)
    "entity_a": "ID A",
    "entity_b": "ID B",
    "name_a": "Name A",
    "name_b": "Name B",
    "pair_id": "Paar-ID",
    "score": "Punktzahl",
    "rules": "Regeln",
    "evidence": "Dafür spricht",
    "against": "Dagegen spricht",
    "forms": "Formen",
    "decisions": "Entscheidungen",
    "normalised_forms": "Normalformen",
    # documents
    "source_path": "Datei",
    "title": "Überschrift",
    "published": "Veröffentlicht am",
    "date_source": "Datum aus",
    "issuer": "Herausgeber",
    # decisions file (its own file keeps its English header: it is an input format)
    "decision_id": "Entscheidungs-ID",
    "action": "Aktion",
    "value": "Wert",
    "mentions": "Erwähnungen",
    "reviewer": "Geprüft von",
    "decided_at": "Entschieden am",
    "note": "Notiz",
}
ENGLISH_HEADERS = {german: english for english, german in GERMAN_HEADERS.items()}
if len(ENGLISH_HEADERS) != len(GERMAN_HEADERS):  # a header read back must name one column
    raise RuntimeError("two columns share a German header")

# Columns holding calendar dates (ISO text in the tables): real dates in the workbook.
DATE_COLUMNS = frozenset({"first_seen", "last_seen", "published"})
# Columns holding a date and time (ISO 8601 with offset).
DATETIME_COLUMNS = frozenset({"decided_at"})

# Sheet names of the workbook (Excel allows 31 characters), by table.
SHEET_NAMES = {
    "people": "Personen",
    "places": "Orte",
    "organisations": "Organisationen",
    "mentions": "Erwähnungen",
    "discrepancies": "Abweichungen",
    "possible_duplicates": "Mögliche Dubletten",
    "decisions": "Entscheidungen",
    "documents": "Dokumente",
}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def german_headers(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table with German column names (unknown columns keep theirs)."""
    return frame.rename(columns=GERMAN_HEADERS)


def english_headers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=ENGLISH_HEADERS)


def read_table_csv(path: Path) -> pd.DataFrame:
    """An exported CSV (either dialect) as text cells under the code's column names.

    The delimiter is taken from the header line (`;` for excel-de, `,` for excel);
    the apostrophe the export put before formula-like cells is taken off again,
    so values compare equal to the Parquet tables'. Numbers stay text as written
    (`0,9` in excel-de): callers convert what they need with `german_number`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `presseabgleich run` first")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
    delimiter = ";" if header.count(";") > header.count(",") else ","
    frame = pd.read_csv(
        path, encoding="utf-8-sig", sep=delimiter, dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL
    )
    frame = frame.map(lambda v: v[1:] if v.startswith("'") and v[1:].startswith(FORMULA_STARTS) else v)
    return english_headers(frame)


def german_number(text: str) -> float:
    """A number as either CSV dialect writes it ("0,9" or "0.9")."""
    return float(text.replace(",", ".")) if text else float("nan")
