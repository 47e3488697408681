"""Canonical names: which of an entity's forms names it in the tables.

Correct diacritics over ASCII-folded or damaged forms, the full form over
abbreviations and short forms, the majority over the minority; a real tie is
"undecided" and left to a reviewer; a form rebuilt from damaged text is
"repaired". A city's generic body ("Kommunales Integrationszentrum") that no form
names with its city gets the city added ("… Bochum"), so the tables tell the
bodies of different cities apart.
"""

from __future__ import annotations

from collections import Counter

from pipeline.gazetteers import Gazetteers
from pipeline.normalize import fold_plain, is_ascii_folding_of
from pipeline.resolve.forms import Form


def choose_canonical(members: list[Form], type_: str, gaz: Gazetteers) -> tuple[str, str, str]:
    """(canonical name, status, reason). Status: "confident", "repaired" (the
    suggested form was rebuilt from damaged text) or "undecided" (a real tie)."""
    counts: Counter
    repaired_forms: set[str]
    if len(members) == 1 and len(members[0].displays) == 1:  # most entities: the form's own, only read
        counts, repaired_forms = members[0].displays, members[0].repaired_displays
    else:
        counts, repaired_forms = Counter(), set()
        for form in members:
            if type_ == "PER" and not form.given and any(m.given for m in members):
                continue  # surname-only references never name the entity
            counts.update(form.displays)
            repaired_forms |= form.repaired_displays
    genitives = {d for d in counts if any(d[: -len(e)] in counts for e in ("s", "'", "’") if d.endswith(e))}
    for display in genitives if len(genitives) < len(counts) else ():
        del counts[display]  # "Serap Gülers" names Serap Güler
    displays = list(counts)
    abbreviations = gaz.abbreviations

    def rank(display: str) -> tuple:
        words = display.split()
        return (
            not any(is_ascii_folding_of(display, other) for other in displays),
            not any(w in abbreviations for w in words),
            len(display.replace("-", " ").split()),
            counts[display],
        )

    # one display (most entities) needs no ranking
    ordered = sorted(displays, key=lambda d: (rank(d), d), reverse=True) if len(displays) > 1 else displays
    best = ordered[0]
    city = next((f.city for f in members if f.city), "")
    if city and all(f.city == city or f.scope.startswith("doc:") for f in members) and city not in best:
        return f"{best} {city}", "confident", f"{best}, the body of {city} (the city its documents come from)"
    if len(ordered) > 1 and rank(ordered[1]) == rank(best) and fold_plain(ordered[1]) != fold_plain(best):
        tied = sorted(d for d in ordered if rank(d) == rank(best))
        return (
            tied[0],
            "undecided",
            "tie between " + " / ".join(tied) + f" ({counts[best]} mention(s) each); a reviewer decides",
        )
    if best in repaired_forms:
        return (
            best,
            "repaired",
            "rebuilt from damaged text (Windows-1254 read as Windows-1252, or UTF-8 read as Latin-1)",
        )
    if len(ordered) == 1:
        return best, "confident", "only form"
    runner_up = ordered[1]
    why = []
    top, second = rank(best), rank(runner_up)
    if top[0] != second[0]:
        why.append(f"{runner_up} is an ASCII folding")
    elif top[1] != second[1]:
        why.append(f"{runner_up} is an abbreviation")
    elif top[2] != second[2]:
        why.append("fullest form")
    else:
        why.append(f"majority ({counts[best]} vs {counts[runner_up]})")
    return best, "confident", "; ".join(why)
