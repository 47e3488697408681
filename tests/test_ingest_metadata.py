"""Metadata of plain-text releases (issue 10): date lines, headlines, issuer and issuer_city."""

from __future__ import annotations

import pytest

from pipeline.ingest import find_metadata, plain_to_text
from pipeline.ingest.readers import empty_structure


def metadata_of(text: str, doc_id: str = "meldung"):
    plain, _, structure = plain_to_text(text)
    return find_metadata(structure, plain, doc_id)


BODY = (
    "Oberbürgermeisterin Annegret Kowalski hat am Montag das neue Bürgerbüro eröffnet. Rund 80 Gäste "
    "kamen zur Eröffnung, darunter Vertreterinnen und Vertreter der Vereine aus dem Stadtteil."
)


@pytest.mark.parametrize(
    ("opening", "published", "city"),
    [
        ("Herne, 12.11.2015", "2015-11-12", "Herne"),
        ("Castrop-Rauxel, 12. März 2024 – " + BODY, "2024-03-12", "Castrop-Rauxel"),
        ("Mülheim an der Ruhr, 3. Mai 2023:", "2023-05-03", "Mülheim an der Ruhr"),
        ("12.11.2015 – " + BODY, "2015-11-12", ""),
        ("Pressemitteilung vom 26.11.2020", "2020-11-26", ""),
        ("Pressemitteilung | 16.01.2023", "2023-01-16", ""),
        ("2021-09-14", "2021-09-14", ""),
    ],
)
def test_date_lines(opening: str, published: str, city: str):
    found = metadata_of(f"Neue Sprechzeiten im Rathaus\n\n{opening}\n\n{BODY}")
    assert (found.published, found.date_source, found.issuer_city) == (published, "dateline", city)


def test_event_dates_and_impossible_dates_are_no_date_lines():
    found = metadata_of(f"Einladung zum Infoabend\n\nFreitag, 10. November 2023, 18:00 Uhr\n\n31.02.2024\n\n{BODY}")
    assert (found.published, found.date_source) == ("", "")
    found = metadata_of(f"Am 14.09.2025 wird gewählt\n\n{BODY}", doc_id="archiv/meldung-2025-01-02")
    assert (found.published, found.date_source) == ("2025-01-02", "filename")


@pytest.mark.parametrize(
    ("opening", "issuer", "city"),
    [
        ("Stadt Herne – Pressemitteilung", "Stadt Herne", "Herne"),
        ("Pressemitteilung der Stadt Mülheim an der Ruhr", "Stadt Mülheim an der Ruhr", "Mülheim an der Ruhr"),
        (
            "Stadtverwaltung Castrop-Rauxel\nPressemitteilung vom 05.10.2022",
            "Stadtverwaltung Castrop-Rauxel",
            "Castrop-Rauxel",
        ),
        ("Kreis Wesel | Pressemitteilung", "Kreis Wesel", "Kreis Wesel"),
        ("Landesamt für Statistik\nPressemitteilung\nDüsseldorf, 8. Oktober 2024", "Landesamt für Statistik", ""),
    ],
)
def test_issuer_from_the_letterhead(opening: str, issuer: str, city: str):
    found = metadata_of(f"{opening}\n\nNeue Sprechzeiten im Rathaus\n\n{BODY}")
    assert (found.issuer, found.issuer_city, found.title) == (issuer, city, "Neue Sprechzeiten im Rathaus")


def test_issuer_from_the_press_office_line_and_the_contact_address():
    found = metadata_of(f"Neue Sprechzeiten\n\n{BODY}\n\nAnna Krause, Pressestelle der Stadt Herne\nTelefon 02323 16-0")
    assert (found.issuer, found.issuer_city) == ("Stadt Herne", "Herne")
    found = metadata_of(f"Neue Sprechzeiten\n\n{BODY}\n\nKontakt: presse@stadt-castrop-rauxel.de")
    assert (found.issuer, found.issuer_city) == ("Stadt Castrop-Rauxel", "Castrop-Rauxel")


def test_dateline_city_is_the_last_resort_for_issuer_city():
    found = metadata_of(f"Neue Sprechzeiten\n\nHerne, 12.11.2015 – {BODY}")
    assert (found.issuer, found.issuer_city) == ("", "Herne")
    news = metadata_of(f"LOKALES | HERNE\n\nBürgerbüro öffnet länger\n\nVon Anna Krause\n\nHerne. {BODY}")
    assert (news.issuer, news.issuer_city, news.title) == ("", "Herne", "Bürgerbüro öffnet länger")


def test_no_issuer_city_from_a_sentence_that_is_no_dateline():
    found = metadata_of(f"Neue Sprechzeiten\n\nGestern. {BODY}")
    assert (found.issuer, found.issuer_city) == ("", "")


@pytest.mark.parametrize(
    "opening",
    [
        "Pressemitteilung",
        "PRESSEMELDUNG",
        "Pressemitteilung der Stadt Herne\n14.09.2022",
        "Stadt Herne\nPresse",
        "Herne",
    ],
)
def test_title_skips_generic_headers(opening: str):
    assert metadata_of(f"{opening}\n\nBürgerbüro öffnet länger\n\n{BODY}").title == "Bürgerbüro öffnet länger"


def test_html_title_loses_the_site_name_which_names_the_issuer():
    structure = empty_structure()
    structure["title"].append("Bürgerbüro öffnet länger | Stadt Herne")
    found = find_metadata(structure, BODY, "seite")
    assert (found.title, found.issuer, found.issuer_city) == ("Bürgerbüro öffnet länger", "Stadt Herne", "Herne")


def test_running_text_is_no_title():
    assert metadata_of(BODY).title == ""


def test_letterhead_wins_over_a_press_office_the_text_mentions():
    found = metadata_of(
        f"Stadt Herne – Pressemitteilung\n\nGemeinsame Sprechzeiten\n\n{BODY} "
        "Das bestätigte die Pressestelle der Stadt Castrop-Rauxel."
    )
    assert (found.issuer, found.issuer_city) == ("Stadt Herne", "Herne")
