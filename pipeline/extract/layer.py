"""The rule layer: small spaCy components after the statistical `ner`, in order.

| component | requires | assigns |
|---|---|---|
| presseabgleich_contacts | – | doc.spans["contacts"], doc.ents (drops ents over contacts) |
| presseabgleich_corrections | doc.ents | doc.ents (model errors fixed) |
| presseabgleich_persons | doc.ents | doc.ents (PER boundaries), candidates |
| presseabgleich_places | doc.ents | candidates |
| presseabgleich_organisations | doc.ents | candidates |
| presseabgleich_entities | candidates | doc.ents |
| presseabgleich_propagation | doc.ents | doc.ents (document-level forms) |
| presseabgleich_titles_roles | doc.ents | Span._.titles, Span._.roles |
| presseabgleich_nested_places | doc.ents | doc.spans["nested"] |

The finders all read the corrected model entities and only propose; the merge
component decides, so the finders' order does not matter.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.util import compile_infix_regex

# Importing the modules registers their factories.
from pipeline.extract import (  # noqa: F401
    contacts,
    corrections,
    entities,
    organisations,
    persons,
    places,
    propagation,
    titles_roles,
)

RULE_COMPONENTS = (
    "presseabgleich_contacts",
    "presseabgleich_corrections",
    "presseabgleich_persons",
    "presseabgleich_places",
    "presseabgleich_organisations",
    "presseabgleich_entities",
    "presseabgleich_propagation",
    "presseabgleich_titles_roles",
    "presseabgleich_nested_places",
)


# A slash between two words separates them: "Foto: Stadt Bottrop/Lena Vogt"
# (spaCy's German tokenizer keeps "Bottrop/Lena" as one token).
SLASH_BETWEEN_WORDS = r"(?<=[^\W\d_])/(?=[^\W\d_])"


def split_at_slashes(nlp: Language) -> None:
    infixes = list(nlp.Defaults.infixes or [])
    if SLASH_BETWEEN_WORDS not in infixes:
        nlp.tokenizer.infix_finditer = compile_infix_regex([*infixes, SLASH_BETWEEN_WORDS]).finditer


def add_rule_layer(nlp: Language) -> Language:
    """Append the rule components that are not in `nlp` yet (idempotent), and let the
    tokenizer split words joined by a slash."""
    split_at_slashes(nlp)
    for name in RULE_COMPONENTS:
        if name not in nlp.pipe_names:
            nlp.add_pipe(name, last=True)
    return nlp
