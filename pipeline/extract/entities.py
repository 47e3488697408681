"""Component `presseabgleich_entities`: the finders' proposals
(doc.spans["rule_candidates"]) into doc.ents.

A rule span wins over the model spans it overlaps when it contains them all
(so it is at least as long); otherwise the model span stays. Longer proposals
are considered first. A proposal that exactly repeats a model span, or replaces
spans of its own label, is marked "model+rule".
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract.spans import CANDIDATES_KEY, CONTACTS_KEY, keep_in_one_sentence


def merge_proposals(entities: list[Span], proposals: list[Span]) -> list[Span]:
    chosen = list(entities)
    for proposal in sorted(proposals, key=lambda s: (-(s.end - s.start), s.start)):
        overlapping = [e for e in chosen if e.start < proposal.end and proposal.start < e.end]
        if not all(proposal.start <= e.start and e.end <= proposal.end for e in overlapping):
            continue
        for e in overlapping:
            chosen.remove(e)
        same_label = bool(overlapping) and all(e.label_ == proposal.label_ for e in overlapping)
        proposal._.label_source = "model+rule" if same_label else "rule"
        chosen.append(proposal)
    return filter_spans(chosen)


class EntityMerger:
    def __call__(self, doc: Doc) -> Doc:
        proposals = list(doc.spans.get(CANDIDATES_KEY, []))
        if proposals:
            doc.ents = merge_proposals(list(doc.ents), proposals)
        doc.spans[CANDIDATES_KEY] = []
        keep_in_one_sentence(list(doc.ents) + list(doc.spans.get(CONTACTS_KEY, [])))
        return doc


@Language.factory("presseabgleich_entities", assigns=["doc.ents"])
def make_entity_merger(nlp: Language, name: str) -> EntityMerger:
    return EntityMerger()
