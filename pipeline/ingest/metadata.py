"""Title, publication date and issuer of a press text, from its structure and its opening lines.

German press releases open with a letterhead ("Stadt Herne – Pressemitteilung",
"Pressemitteilung der Stadt Bochum"), often a date line ("Herne, 12.11.2015",
"Bochum, 12. März 2024 – …", "Pressemitteilung vom 26.11.2020") and the headline;
local news opens with a section line ("LOKALES | BOCHUM"), the headline, a byline
("Von …") and a dateline of the form "Bochum. Der Integrationsrat …". These are
conventions of the genre, not of any one office.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from pipeline.ingest.readers import Structure

GENERIC_HEADINGS = {
    "presseinformation",
    "pressemitteilung",
    "pressemeldung",
    "pressemitteilungen",
    "medieninformation",
    "medienmitteilung",
    "pressenotiz",
    "presseerklärung",
    "presseeinladung",
    "presse",
    "kontakt",
    "hinweis zum foto",
    "einladung",
    "terminhinweis",
    "aktuelles",
    "nachrichten",
    "lokales",
}
GERMAN_MONTHS = {
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "april": 4,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "august": 8,
    "september": 9,
    "oktober": 10,
    "november": 11,
    "dezember": 12,
}
_MONTHS = "|".join(GERMAN_MONTHS)
_DATE = (
    rf"(?:(?P<d1>\d{{1,2}})\.\s*(?P<month>{_MONTHS})\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}})\.\s?(?P<m2>\d{{1,2}})\.\s?(?P<y2>\d{{4}})"
    rf"|(?P<y3>\d{{4}})-(?P<m3>\d{{2}})-(?P<d3>\d{{2}}))(?!\d)"
)
_WEEKDAY = r"(?:Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag)"
# A place name as a dateline writes it: "Herne", "Mülheim an der Ruhr", "Halle (Saale)".
# Words are joined by spaces only: a name never runs on into the next line.
_PLACE = r"[A-ZÄÖÜ][\w'’.-]*(?:[ \t]+(?:an der|am|an|im|in der|ob der|bei|[A-ZÄÖÜ(][\w'’.()-]*)){0,3}"
_PRESS_WORD = (
    r"(?:Presse(?:mitteilung|meldung|information|notiz|erklärung|einladung|dienst)"
    r"|Medien(?:information|mitteilung))(?:en)?"
)
PRESS_WORD = re.compile(rf"\b{_PRESS_WORD}\b", re.IGNORECASE)
# "Herne, 12.11.2015", "Bochum, 12. März 2024 – Text", "12.11.2015:", "Montag, 3. März 2025".
# What follows the date is nothing, a dash, a colon or the like: "Freitag, 10. November
# 2023, 18:00 Uhr" is an event, not a date line.
DATELINE = re.compile(
    rf"^[\W_]*(?:(?P<place>{_PLACE}),\s*)?(?:{_WEEKDAY},?\s+(?:den\s+)?)?{_DATE}\s*(?:$|[–—:|·/(]|-\s)",
    re.IGNORECASE,
)
# "Pressemitteilung vom 26.11.2020", "Pressemitteilung | 16.01.2023", "Pressemitteilung · 12.06.2024 · Integration".
PRESS_DATE = re.compile(rf"\b{_PRESS_WORD}\s*(?:vom|von|[|·:–—-])?\s*{_DATE}", re.IGNORECASE)
FILENAME_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Newspaper dateline: the first body paragraph opens with the place and a full stop.
NEWS_DATELINE = re.compile(rf"^(?P<place>{_PLACE})\.\s+[A-ZÄÖÜ„\"]")

_KIND = r"(?P<kind>Stadt|Kreisstadt|Hansestadt|Universitätsstadt|Stadtverwaltung|Gemeinde|Gemeindeverwaltung|Kreis|Landkreis|Kreisverwaltung)"
LETTERHEAD = re.compile(rf"^{_KIND}\s+(?P<name>{_PLACE})$")
ISSUER_PHRASE = re.compile(
    r"\b(?:Pressestelle|Presseamt|Presse- und Öffentlichkeitsarbeit|Pressesprecher(?:in)?)[ \t]+(?:der|des)[ \t]+"
    rf"(?P<kind>Stadt|Stadtverwaltung|Gemeinde|Kreises|Landkreises|Kreisverwaltung)[ \t]+(?P<name>{_PLACE})"
)
CITY_DOMAIN = re.compile(
    r"\b[\w.+-]+@(?P<kind>stadt|gemeinde|kreis|landkreis)-(?P<name>[a-zäöüß-]+)\.de\b", re.IGNORECASE
)
SEPARATORS = re.compile(r"\s+[|·–—]\s+|\s+-\s+|\s*\|\s*")
BYLINE = re.compile(r"^(?:Von|Text:|Autor(?:in)?:)\s+[A-ZÄÖÜ][\w'’.-]+(?:\s+[A-ZÄÖÜ][\w'’.-]+){0,3}$")
OPENING_LINES = 40  # non-empty lines searched for the letterhead, date line and headline
# Issuer kinds → the territory they stand for (what qualifies generic names like
# "Kommunales Integrationszentrum"): a town's name, or "Kreis X" for a district.
DISTRICT_KINDS = {"kreis", "landkreis", "kreisverwaltung", "kreises", "landkreises"}


@dataclass
class Metadata:
    title: str
    published: str
    date_source: str
    issuer: str
    issuer_city: str


def _opening_lines(text: str) -> list[str]:
    """The first OPENING_LINES non-empty lines, stripped."""
    lines: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            lines.append(line.strip())
            if len(lines) == OPENING_LINES:
                break
    return lines


def _date_of(match: re.Match[str]) -> str:
    groups = match.groupdict()
    try:
        if groups["month"]:
            found = date(int(groups["y1"]), GERMAN_MONTHS[groups["month"].lower()], int(groups["d1"]))
        elif groups["m2"]:
            found = date(int(groups["y2"]), int(groups["m2"]), int(groups["d2"]))
        else:
            found = date(int(groups["y3"]), int(groups["m3"]), int(groups["d3"]))
    except ValueError:
        return ""
    return found.isoformat() if 1900 <= found.year <= 2100 else ""


def dateline(line: str) -> tuple[str, str] | None:
    """(ISO date, place or "") when `line` is a date line, else None."""
    if line.lower().startswith("am "):
        return None
    match = DATELINE.match(line)
    if match:
        found = _date_of(match)
        return (found, match.group("place") or "") if found else None
    match = PRESS_DATE.search(line)
    if match:
        found = _date_of(match)
        return (found, "") if found else None
    return None


def find_date(text: str, doc_id: str) -> tuple[str, str, str]:
    """(ISO date, where it came from, dateline place): a date line near the start,
    else a YYYY-MM-DD in the file name."""
    for line in _opening_lines(text):
        found = dateline(line)
        if found:
            return found[0], "dateline", found[1]
    match = FILENAME_DATE.search(doc_id)
    if match:
        try:
            return date(*map(int, match.groups())).isoformat(), "filename", ""
        except ValueError:
            pass
    return "", "", ""


def _is_header(part: str) -> bool:
    """A letterhead, press-release label, date, section line or byline: no headline."""
    cleaned = part.strip(" *_#:")
    words = cleaned.split()
    if not words:
        return True
    if cleaned.lower() in GENERIC_HEADINGS or LETTERHEAD.match(cleaned) or BYLINE.match(cleaned):
        return True
    if PRESS_WORD.search(cleaned) and (len(words) <= 6 or _letterhead_issuer(cleaned)):
        return True
    if dateline(cleaned) or re.fullmatch(r"[\d.\s/-]+", cleaned):
        return True
    # Section lines: "LOKALES", "OBERHAUSEN", "Hamm", "EINLADUNG / DAVET".
    return len(words) == 1 or (len(words) <= 4 and cleaned.upper() == cleaned)


def _headline(line: str) -> str:
    """The headline in a line, without letterhead parts ("Titel | Stadt X" → "Titel"), or ""."""
    cleaned = line.strip(" *_#")
    if _is_header(cleaned):
        return ""
    parts = [p.strip() for p in SEPARATORS.split(cleaned) if p.strip()]
    kept = [p for p in parts if not _is_header(p)]
    if len(kept) == len(parts):
        return cleaned
    return " – ".join(kept)


def _is_body(line: str) -> bool:
    """A running-text paragraph: the headline, if any, came before it."""
    return len(line) > 200 or (line.endswith(".") and len(line.split()) > 12)


def find_title(structure: Structure, text: str) -> str:
    """The HTML title or first real heading; for plain text the first short line
    of the opening that is not a letterhead, label, date or byline."""
    for candidate in structure["title"] + structure["headings"]:
        headline = _headline(candidate)
        if headline:
            return headline
    opening = _opening(text)
    for index, line in enumerate(opening):
        if index + 1 < len(opening) and _is_press_label(opening[index + 1]):
            continue  # the letterhead above "Pressemitteilung"
        headline = _headline(line)
        if headline and not line.endswith("."):
            return headline
    return ""


def _opening(text: str) -> list[str]:
    """The lines before the first running-text paragraph (at most 15)."""
    opening: list[str] = []
    for line in _opening_lines(text)[:15]:
        if _is_body(line):
            break
        opening.append(line)
    return opening


def _is_press_label(line: str) -> bool:
    return line.strip(" *_#:").lower() in GENERIC_HEADINGS


def _territory(kind: str, name: str) -> str:
    return f"Kreis {name}" if kind.lower() in DISTRICT_KINDS else name


def _letterhead_issuer(part: str) -> tuple[str, str] | None:
    """ "Stadt Bochum", "Pressemitteilung der Stadt Bochum" → ("Stadt Bochum", "Bochum")."""
    cleaned = re.sub(rf"^\W*{_PRESS_WORD}\s+(?:der|des)\s+", "", part.strip(" *_#:"), flags=re.IGNORECASE)
    match = LETTERHEAD.match(cleaned)
    if match:
        return cleaned, _territory(match.group("kind"), match.group("name"))
    return None


@cache
def _municipalities() -> frozenset[str]:
    from pipeline.gazetteers import load_gazetteers

    return load_gazetteers().german_municipalities


def find_issuer(text: str, structure: Structure, dateline_place: str = "") -> tuple[str, str]:
    """(issuer, issuer_city). Issuer, first found: a letterhead in the opening
    lines or the HTML title ("Stadt X", "Pressemitteilung der Stadt X", "… | Stadt
    X"); "Pressestelle der Stadt X" anywhere (the contact block; a letterhead wins
    over a press office the text merely mentions); the line above a bare
    "Pressemitteilung" (a ministry, a company); a contact address @stadt-x.de.
    issuer_city: the town (or "Kreis X") of a municipal issuer, else the
    dateline's place, else a newspaper dateline's."""
    lines = _opening(text)
    for candidate in structure["title"] + structure["headings"][:2] + lines:
        for part in [candidate, *SEPARATORS.split(candidate)]:
            found = _letterhead_issuer(part)
            if found:
                return found
    phrase = ISSUER_PHRASE.search(text)
    if phrase:
        kind = phrase.group("kind")
        display_kind = {"Kreises": "Kreis", "Landkreises": "Landkreis"}.get(kind, kind)
        return f"{display_kind} {phrase.group('name')}", _territory(kind, phrase.group("name"))
    for above, line in zip(lines, lines[1:], strict=False):
        if _is_press_label(line) and not _is_header(above) and len(above.split()) <= 20:
            # Not a municipality (a ministry, a company): no town to qualify names with.
            return above.strip(" *_#"), ""
    domain = CITY_DOMAIN.search(text)
    if domain:
        kind = domain.group("kind").lower()
        name = "-".join(part.capitalize() for part in domain.group("name").split("-"))
        display_kind = {"stadt": "Stadt", "gemeinde": "Gemeinde", "kreis": "Kreis", "landkreis": "Landkreis"}[kind]
        return f"{display_kind} {name}", _territory(kind, name)
    if dateline_place:
        return "", dateline_place
    first_body = next((line for line in _opening_lines(text)[:15] if _is_body(line)), "")
    news = NEWS_DATELINE.match(first_body)
    if news and news.group("place") in _municipalities():
        return "", news.group("place")
    return "", ""


def find_metadata(structure: Structure, text: str, doc_id: str) -> Metadata:
    published, date_source, place = find_date(text, doc_id)
    issuer, issuer_city = find_issuer(text, structure, place)
    return Metadata(find_title(structure, text), published, date_source, issuer, issuer_city)
