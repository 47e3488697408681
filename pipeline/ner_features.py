"""Gazetteer features for the fallback NER model (a registered spaCy architecture).

The layer looks every token up in a lookups table that travels inside the
model's vocab (`vocab/lookups.bin`), so a saved model needs no external lists,
only this module imported before `spacy.load` (pipeline.model does that).
Bits come from pipeline.gazetteers.FEATURES plus one for GermaNER's surname list;
two are also computed from the token itself: a compound ending in an organisation
word ("Integrationszentrum") and a place name plus "-er" ("Hagener").
"""

from __future__ import annotations

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Maxout, Model, chain, concatenate, with_array
from thinc.types import Floats2d

from pipeline.gazetteers import FEATURES, feature_table, germaner_surnames, load_gazetteers

TABLE_NAME = "presseabgleich_gazetteer"
PLACE_BIT = 1 << FEATURES.index("place")
ORG_BIT = 1 << FEATURES.index("org_word")
PLACE_ADJECTIVE_BIT = 1 << FEATURES.index("place_adjective")
# The NER model's own bits: the gazetteer features, then a surname bit kept apart
# from FEATURES' last_name because the list is large and noisy (Koch, Bauer).
NER_FEATURES = (*FEATURES, "germaner_surname")
SURNAME_BIT = 1 << NER_FEATURES.index("germaner_surname")
N_FEATURES = len(NER_FEATURES)


def _bits_for(word: str, table, org_suffixes: tuple[str, ...], cache: dict[str, int]) -> int:
    bits = cache.get(word)
    if bits is not None:
        return bits
    bits = table.get(word, 0)
    lower = word.lower()
    if len(word) > 6 and lower.endswith(org_suffixes):
        bits |= ORG_BIT
    if (
        len(word) > 4
        and word.endswith("er")
        and (table.get(word[:-2], 0) & PLACE_BIT or table.get(word[:-1], 0) & PLACE_BIT)
    ):
        bits |= PLACE_ADJECTIVE_BIT
    if len(cache) < 500_000:
        cache[word] = bits
    return bits


def gazetteer_flags(org_suffixes: tuple[str, ...], n_features: int) -> Model[list[Doc], list[Floats2d]]:
    """The first `n_features` bits of NER_FEATURES per token, as 0/1 columns."""
    cache: dict[str, int] = {}
    shifts = numpy.arange(n_features, dtype="uint32")

    def forward(model: Model, docs: list[Doc], is_train: bool):
        outputs = []
        for doc in docs:
            table = doc.vocab.lookups.get_table(TABLE_NAME, {})
            masks = numpy.fromiter(
                (_bits_for(t.text, table, org_suffixes, cache) for t in doc), dtype="uint32", count=len(doc)
            )
            flags = ((masks[:, None] >> shifts[None, :]) & 1).astype("float32")
            outputs.append(model.ops.asarray2f(flags))
        return outputs, lambda d_outputs: []

    return Model("gazetteer_flags", forward, dims={"nO": n_features})


@spacy.registry.architectures("presseabgleich.GazetteerEmbed.v1")
def gazetteer_embed(
    width: int, embed: Model[list[Doc], list[Floats2d]], org_suffixes: list[str], surnames: bool = False
) -> Model[list[Doc], list[Floats2d]]:
    """Any spaCy token embedding (`embed`, of output `width`) plus gazetteer flags,
    mixed back down to `width`; `surnames` adds the GermaNER surname flag (off by
    default so models saved before it existed still load)."""
    n_features = N_FEATURES if surnames else N_FEATURES - 1
    flags = gazetteer_flags(tuple(s.lower() for s in org_suffixes), n_features)
    mixer = with_array(Maxout(nO=width, nI=width + n_features, nP=3, normalize=True))
    return chain(concatenate(embed, flags), mixer)


@spacy.registry.callbacks("presseabgleich.add_gazetteer_table.v1")
def add_gazetteer_table():
    def before_init(nlp: Language) -> Language:
        table = (
            nlp.vocab.lookups.add_table(TABLE_NAME)
            if TABLE_NAME not in nlp.vocab.lookups
            else nlp.vocab.lookups.get_table(TABLE_NAME)
        )
        bits_of = feature_table(load_gazetteers())
        for surname in germaner_surnames():
            bits_of[surname] = bits_of.get(surname, 0) | SURNAME_BIT
        for word, bits in bits_of.items():
            table[word] = bits
        return nlp

    return before_init
