"""Stage 2, extract: documents → mentions (people, places, organisations, contacts).

`stage` runs the stage (worker processes, incremental reuse); `batches` takes a
batch of documents through the pipeline, long texts in pieces (what decides the
mentions, with the rules and the model: see stage.extractor_key); `layer` assembles
the rule components that follow the statistical NER, each in its own module over
the shared word-class `lexicon`; `mentions` turns a processed Doc into mention rows.
"""

from pipeline.extract.batches import build_nlp, chunk_text, document_batches, extract_batch
from pipeline.extract.layer import RULE_COMPONENTS, add_rule_layer
from pipeline.extract.mentions import MENTION_COLUMNS, doc_mentions, tie_contacts
from pipeline.extract.spans import CONTACTS_KEY, NESTED_KEY
from pipeline.extract.stage import (
    EXTRACT_STATE_FILE,
    MENTIONS_FILE,
    RUN_INFO_FILE,
    extract_mentions,
    extractor_key,
    run_extract,
    worker_processes,
)

__all__ = [
    "CONTACTS_KEY",
    "EXTRACT_STATE_FILE",
    "MENTIONS_FILE",
    "MENTION_COLUMNS",
    "NESTED_KEY",
    "RULE_COMPONENTS",
    "RUN_INFO_FILE",
    "add_rule_layer",
    "build_nlp",
    "chunk_text",
    "doc_mentions",
    "document_batches",
    "extract_batch",
    "extract_mentions",
    "extractor_key",
    "run_extract",
    "tie_contacts",
    "worker_processes",
]
