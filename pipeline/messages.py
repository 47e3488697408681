"""What the log and the `review` commands say, in German (the default) and English.

Every line a user reads on the terminal comes from MESSAGES: a key and one format
string per language, with the same placeholders in both. File names, IDs, counts
and commands are placeholders, so they read the same in either language. The
language is the one switch `[report] language` (the report page follows it too),
overridden by the environment variable PRESSEABGLEICH_LANGUAGE and by the global
option `presseabgleich --language en …`; the CLI sets it with `set_language`.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
LANGUAGE_ENV = "PRESSEABGLEICH_LANGUAGE"

MESSAGES: dict[str, dict[str, str]] = {
    # --- general -------------------------------------------------------------
    "error": {"de": "Fehler: {detail}", "en": "error: {detail}"},
    "warning": {"de": "Warnung: {detail}", "en": "warning: {detail}"},
    "note": {"de": "Hinweis: {detail}", "en": "note: {detail}"},
    "unknown_language": {
        "de": "Fehler: unbekannte Sprache {value!r} ({where}); möglich sind de und en",
        "en": "error: unknown language {value!r} ({where}); use de or en",
    },
    "missing_output": {
        "de": "Fehler: {path} fehlt: zuerst `python -m pipeline {stage}` ausführen",
        "en": "error: {path} is missing: run `python -m pipeline {stage}` first",
    },
    "write_failed": {
        "de": "Fehler: {path} kann nicht geschrieben werden ({reason}); die vorige Fassung ist unverändert",
        "en": "error: cannot write {path} ({reason}); its previous version is intact",
    },
    "interrupted": {
        "de": "abgebrochen: die bisher geschriebenen Ergebnisse sind vollständig; nichts ist halb geschrieben",
        "en": "interrupted: outputs written so far are complete; nothing was half-written",
    },
    "took": {"de": "        {stage} dauerte {seconds} s", "en": "        {stage} took {seconds} s"},
    "waiting_for_registry": {
        "de": "ein anderer Lauf schreibt gerade die ID-Liste {file}; warte, bis er fertig ist (Strg+C bricht ab)",
        "en": "another run is writing the ID registry {file}; waiting for it to finish (Ctrl-C to stop)",
    },
    "waiting_for_run": {
        "de": "ein anderer Lauf schreibt gerade in {folder}; warte, bis er fertig ist (Strg+C bricht ab)",
        "en": "another run is writing {folder}; waiting for it to finish (Ctrl-C to stop)",
    },
    # --- ingest ------------------------------------------------------------------
    "ingest.skipped": {
        "de": "übersprungen: {file}: {problem} ({detail})",
        "en": "skipped {file}: {problem} ({detail})",
    },
    "ingest.note": {"de": "Hinweis: {file}: {problem} ({detail})", "en": "note: {file}: {problem} ({detail})"},
    "ingest.done": {
        "de": "ingest: {documents} Dokumente aus {folder} ({reused} seit dem letzten Lauf unverändert), "
        "übersprungen: {skipped}, Hinweise: {notes}",
        "en": "ingest: {documents} documents from {folder} ({reused} unchanged since the last run), "
        "skipped: {skipped}, notes: {notes}",
    },
    "ingest.listed": {
        "de": "        die übersprungenen Dateien und die Hinweise stehen in {file}",
        "en": "        skipped files and notes are listed in {file}",
    },
    "ingest.nothing": {"de": "Fehler: keine verwendbaren Dokumente", "en": "error: no usable documents"},
    # --- model -------------------------------------------------------------------
    "model.none": {
        "de": "Fehler: kein deutsches Modell verfügbar. {name} ist nicht installiert, und die Trainingsdaten "
        "des Ersatzmodells ({files}) liegen nicht in {folder}.\n"
        "  Entweder spaCys Modell installieren (braucht Zugang zu github.com):\n"
        "      {command}\n"
        "  oder die GermEval-2014-Dateien angeben: {env}=/pfad/zu/germeval2014 setzen "
        "(oder ner_data_dir unter [model] in presseabgleich.toml) und erneut starten.",
        "en": "error: no German model is available. {name} is not installed, and the training "
        "data for the fallback model ({files}) is not in {folder}.\n"
        "  Either install spaCy's model (needs access to github.com):\n"
        "      {command}\n"
        "  or give the GermEval 2014 files: set {env}=/path/to/germeval2014 "
        "(or ner_data_dir under [model] in presseabgleich.toml) and run again.",
    },
    "model.no_name": {"de": "Kein spaCy-Modell", "en": "No spaCy model"},
    "model.loaded": {
        "de": "Modell: {model}; Komponenten: {components}",
        "en": "Model: {model}; components: {components}",
    },
    "model.loaded_on_workers": {
        "de": "Modell: {model}; Komponenten: {components} (auf jedem Dask-Worker geladen)",
        "en": "Model: {model}; components: {components} (loaded on each Dask worker)",
    },
    "engine.started": {
        "de": "engine: Dask, {workers} Worker bei {where}",
        "en": "engine: Dask, {workers} worker(s) at {where}",
    },
    "engine.local_cluster": {"de": "einem LocalCluster auf diesem Rechner", "en": "a LocalCluster on this machine"},
    "engine.unreachable": {
        "de": "Fehler: der Dask-Scheduler unter {address} ist nicht erreichbar ({reason})",
        "en": "error: cannot reach the Dask scheduler at {address} ({reason})",
    },
    "model.training": {
        "de": "Das deutsche Ersatzmodell für die Namenserkennung wird trainiert (Rezept {recipe!r}) mit {sentences} "
        "GermEval-Sätzen ({stopping} für das frühe Beenden), {steps} Schritte (höchstens {epochs} Epochen oder "
        "{minutes} CPU-Minuten); einmal je Rechner.",
        "en": "Training the fallback German NER model (recipe {recipe!r}) on {sentences} GermEval sentences "
        "({stopping} for early stopping), {steps} steps (at most {epochs} epochs or {minutes} CPU minutes); "
        "once per machine.",
    },
    "model.trained": {
        "de": "Ersatzmodell trainiert in {seconds} s ({cpu_seconds} s CPU){budget}; {files}: "
        "offizieller äußerer F1 {official_f}, F1 der Pipeline-Typen {pipeline_f}",
        "en": "Fallback model trained in {seconds} s ({cpu_seconds} s CPU){budget}; {files}: "
        "official outer F1 {official_f}, pipeline-label F1 {pipeline_f}",
    },
    "model.budget": {
        "de": " (von der CPU-Zeitgrenze vor seinen Schritten beendet: kürzer trainiert als das gemessene Modell)",
        "en": " (stopped by the CPU-time guard before its steps: a shorter training than the measured one)",
    },
    "model.installed": {"de": "{name} ist installiert", "en": "{name} is installed"},
    "model.installing": {"de": "{name} wird installiert von {url} …", "en": "installing {name} from {url} …"},
    "model.install_slow": {
        "de": "Hinweis: die Installation von {name} dauerte länger als {seconds} s und wurde abgebrochen",
        "en": "note: installing {name} took longer than {seconds} s and was stopped",
    },
    "model.install_failed": {
        "de": "Hinweis: {name} konnte nicht installiert werden ({reason})",
        "en": "note: could not install {name} ({reason})",
    },
    "model.install_done": {"de": "{name} installiert", "en": "{name} installed"},
    "model.fallback_instead": {
        "de": "        `run` nimmt stattdessen das Ersatzmodell, trainiert aus den GermEval-2014-Dateien, wo sie vorliegen",
        "en": "        `run` uses the fallback model instead, trained from the GermEval 2014 files where they are present",
    },
    # --- extract, resolve, export, report, show, evaluate --------------------------
    "extract.processed": {
        "de": "extract: {processed} Dokument(e) verarbeitet, {reused} unverändert übernommen",
        "en": "extract: {processed} document(s) processed, {reused} unchanged and reused",
    },
    "extract.done": {
        "de": "extract: {mentions} Erwähnungen ({counts}) → {file}",
        "en": "extract: {mentions} mentions ({counts}) → {file}",
    },
    "resolve.done": {
        "de": "resolve: {mentions} Erwähnungen → {entities} Personen, Orte und Organisationen "
        "(PER {per}, LOC {loc}, ORG {org}; {undecided} mit offenem Namen) → {file}",
        "en": "resolve: {mentions} mentions → {entities} entities "
        "(PER {per}, LOC {loc}, ORG {org}; {undecided} with an undecided name) → {file}",
    },
    "resolve.merged": {
        "de": "        {old} gehört jetzt zu {new} (durch neue Belege zusammengeführt)",
        "en": "        entity {old} is now part of {new} (merged by new evidence)",
    },
    "export.unknown_dialect": {
        "de": "Fehler: unbekanntes CSV-Format {dialect!r}; möglich sind {choices}",
        "en": "error: unknown CSV dialect {dialect!r}; use one of {choices}",
    },
    "export.done": {"de": "export: {tables} ({dialect}) in {folder}", "en": "export: {tables} ({dialect}) in {folder}"},
    "export.done_xlsx": {
        "de": "export: {tables} und presseabgleich.xlsx ({dialect}) in {folder}",
        "en": "export: {tables} and presseabgleich.xlsx ({dialect}) in {folder}",
    },
    "export.no_discrepancies_sheet": {
        "de": "Hinweis: kein Blatt mit Abweichungen: {file} fehlt oder ist älter als dieser Lauf (zuerst `report`)",
        "en": "note: no sheet of discrepancies: {file} is missing or older than this run (run `report` first)",
    },
    "export.no_decisions_sheet": {
        "de": "Hinweis: kein Blatt mit Entscheidungen: {detail}",
        "en": "note: no sheet of decisions: {detail}",
    },
    "export.no_mentions_sheet": {
        "de": "Hinweis: die Arbeitsmappe hat kein Blatt der Erwähnungen: {mentions} sind mehr als "
        "workbook_max_mentions ({limit}); mentions.csv enthält sie alle",
        "en": "note: the workbook has no sheet of mentions: {mentions} are more than "
        "workbook_max_mentions ({limit}); mentions.csv has them all",
    },
    "export.too_many_rows": {
        "de": "Hinweis: {file} hat {rows} Zeilen; Excel und LibreOffice öffnen nur die ersten {limit} "
        "(die Arbeitsmappe setzt die Tabelle auf weiteren Blättern fort)",
        "en": "note: {file} has {rows} rows; Excel and LibreOffice open only the first {limit} "
        "(the workbook continues the table on further sheets)",
    },
    "report.done": {
        "de": "report: {open} offene und {decided} entschiedene Abweichungen, {pairs} mögliche Dubletten "
        "zu prüfen → {file}",
        "en": "report: {open} open and {decided} decided discrepancies, {pairs} possible duplicates to review → {file}",
    },
    "report.more": {
        "de": "        … und {more} weitere (insgesamt {kinds}) in {file}",
        "en": "        … and {more} more ({kinds} in all) in {file}",
    },
    "report.show_pages": {
        "de": "        {pages} Dokumentseiten mit markierten Erwähnungen → {folder}",
        "en": "        {pages} document pages with the mentions marked → {folder}",
    },
    "report.decision_problem": {
        "de": "Warnung: Entscheidung {decision} ({action} {entity}) {status}: {where}{detail}",
        "en": "warning: decision {decision} ({action} {entity}) {status}: {where}{detail}",
    },
    "report.at_line": {"de": "Zeile {line}: ", "en": "line {line}: "},
    "status.stale": {"de": "veraltet", "en": "stale"},
    "status.invalid": {"de": "ungültig", "en": "invalid"},
    "show.done": {"de": "show: {marks} Erwähnungen markiert → {file}", "en": "show: {marks} mentions marked → {file}"},
    "evaluate.nothing": {
        "de": "Fehler: --gold-dir und/oder --germeval angeben",
        "en": "error: give --gold-dir and/or --germeval",
    },
    "evaluate.done": {"de": "evaluate: {csv}, {json}", "en": "evaluation: {csv}, {json}"},
    # --- review ------------------------------------------------------------------
    "review.summary": {
        "de": "{discrepancies} Abweichungen, {pairs} mögliche Dubletten",
        "en": "{discrepancies} discrepancies, {pairs} possible duplicates",
    },
    "review.undecided": {"de": "(offen)", "en": "(undecided)"},
    "review.pair": {
        "de": "mögliche Dublette {a} {name_a} ↔ {b} {name_b} (Punktzahl {score}; {rules})",
        "en": "possible duplicate {a} {name_a} ↔ {b} {name_b} (score {score}; {rules})",
    },
    "review.for": {"de": "    dafür: {evidence}", "en": "    for: {evidence}"},
    "review.against": {"de": "    dagegen: {evidence}", "en": "    against: {evidence}"},
    "review.status.open": {"de": "offen", "en": "open"},
    "review.status.unsure": {"de": "unsicher", "en": "unsure"},
    "review.status.decided": {"de": "entschieden", "en": "decided"},
    "review.no_entity": {
        "de": "Fehler: keine Person, kein Ort und keine Organisation mit der ID {entity!r} in den Ergebnissen "
        "des letzten Laufs (siehe people.csv, places.csv, organisations.csv)",
        "en": "error: no entity {entity!r} in the last run's outputs (see people.csv, places.csv, organisations.csv)",
    },
    "review.already_one": {
        "de": "Fehler: {a} und {b} sind bereits zusammengeführt ({entity})",
        "en": "error: {a} and {b} are already one entity ({entity})",
    },
    "review.types_differ": {
        "de": "Fehler: {a} ist vom Typ {type_a}, {b} vom Typ {type_b}; zuerst den Typ einer der beiden ändern "
        "(`review retype`)",
        "en": "error: {a} is a {type_a}, {b} a {type_b}; retype one of them first (`review retype`)",
    },
    "review.no_suggestion": {
        "de": "Fehler: für {entity} gibt es keinen Vorschlag (die Texte halten sich die Waage); "
        "eine Form mit `review rename` wählen",
        "en": "error: {entity} has no suggestion (the texts tie); choose a form with `review rename`",
    },
    "review.empty_name": {"de": "Fehler: der Name ist leer", "en": "error: the name is empty"},
    "review.bad_type": {"de": "Fehler: TYPE muss PER, LOC oder ORG sein", "en": "error: TYPE must be PER, LOC or ORG"},
    "review.bad_mention": {
        "de": "Fehler: jede Erwähnung als --mention 'doc_id: text' angeben",
        "en": "error: give each mention as --mention 'doc_id: text'",
    },
    "review.no_decision": {
        "de": "Fehler: keine Entscheidung {decision!r} in {file}",
        "en": "error: no decision {decision!r} in {file}",
    },
    "review.file_problem": {
        "de": "Warnung: {file} Zeile {line}: {problem}",
        "en": "warning: {file} line {line}: {problem}",
    },
    "review.recorded": {
        "de": "Entscheidung {decision} ({action} {entity}{value}) in {file} eingetragen; sie gilt ab dem nächsten Lauf",
        "en": "decision {decision} ({action} {entity}{value}) recorded in {file}; it applies from the next run",
    },
}

# Ingest's problem names (the `problem` column of ingest_errors.csv stays English,
# a stable value to filter on); the log names them in the reader's language.
PROBLEMS_DE = {
    "empty": "leer",
    "too large": "zu groß",
    "binary": "keine Textdatei",
    "undecodable": "Zeichenkodierung unbekannt",
    "unparseable": "nicht lesbar",
    "unreadable": "nicht lesbar",
    "unreadable folder": "Ordner nicht lesbar",
    "not a regular file": "keine gewöhnliche Datei",
    "symbolic link loop": "Verknüpfung im Kreis",
    "dangling symbolic link": "Verknüpfung ins Leere",
    "outside input folder": "außerhalb des Eingangsordners",
    "linked folder": "verknüpfter Ordner",
    "own output": "eigene Ausgabe",
    "duplicate": "doppelt",
    "doc_id renamed": "doc_id umbenannt",
    "last table unreadable": "letzte Tabelle nicht lesbar",
}
UNSUPPORTED_TYPE = "unsupported file type"

_chosen: str | None = None


def set_language(language: str | None) -> None:
    """The language of every later message; None: back to the environment or the default."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    global _chosen
    _chosen = language


def language() -> str:
    """The language in force: as set, else PRESSEABGLEICH_LANGUAGE when valid, else German."""
    if _chosen is not None:
        return _chosen
    from_env = os.environ.get(LANGUAGE_ENV, "").strip().lower()
    return from_env if from_env in LANGUAGES else DEFAULT_LANGUAGE


def say(key: str, **fields: Any) -> str:
    """The message `key` in the language in force, with `fields` filled in."""
    return MESSAGES[key][language()].format(**fields)


def decimal(value: float, digits: int = 2) -> str:
    """A number as the reader writes it: a decimal comma in German."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language() == "de" else text


def problem_name(problem: str) -> str:
    """An ingest problem name in the language in force."""
    if language() == "en":
        return problem
    if problem.startswith(UNSUPPORTED_TYPE):
        return "Dateityp wird nicht gelesen" + problem[len(UNSUPPORTED_TYPE) :]
    return PROBLEMS_DE.get(problem, problem)
