"""Stage 1, ingest: press releases (.txt, .md, .html, .pdf, .docx) → plain text with metadata.

Modules, one per concern: `files` (finding the input files), `decoding` (bytes →
text), `readers` (one per format), `offsets` (the map from plain text back into
the source), `metadata` (title, date, issuer), `stage` (the entry point and the
incremental reuse).
"""

from pipeline.ingest.decoding import check_is_text, decode_bytes
from pipeline.ingest.files import doc_id_for, iter_input_files, printable_name
from pipeline.ingest.metadata import GERMAN_MONTHS, find_date, find_issuer, find_metadata, find_title
from pipeline.ingest.offsets import Segment, TextBuilder, dump_offset_map, load_offset_map, source_offset, source_span
from pipeline.ingest.problems import NOTE, SKIPPED, IngestProblem, SkipFile, escape_unprintable
from pipeline.ingest.readers import docx_to_text, html_to_text, markdown_to_text, pdf_to_text, plain_to_text
from pipeline.ingest.stage import (
    DOCUMENTS_FILE,
    DOCUMENTS_ROW_GROUP,
    ERRORS_FILE,
    INGEST_STATE_FILE,
    Document,
    IngestedFiles,
    IngestResult,
    document_rows,
    ingest_files,
    read_document,
    require_input_folder,
    run_ingest,
)

__all__ = [
    "DOCUMENTS_FILE",
    "DOCUMENTS_ROW_GROUP",
    "ERRORS_FILE",
    "GERMAN_MONTHS",
    "INGEST_STATE_FILE",
    "NOTE",
    "SKIPPED",
    "Document",
    "IngestProblem",
    "IngestResult",
    "IngestedFiles",
    "Segment",
    "SkipFile",
    "TextBuilder",
    "check_is_text",
    "decode_bytes",
    "doc_id_for",
    "document_rows",
    "docx_to_text",
    "dump_offset_map",
    "escape_unprintable",
    "find_date",
    "find_issuer",
    "find_metadata",
    "find_title",
    "html_to_text",
    "ingest_files",
    "iter_input_files",
    "load_offset_map",
    "markdown_to_text",
    "pdf_to_text",
    "plain_to_text",
    "printable_name",
    "read_document",
    "require_input_folder",
    "run_ingest",
    "source_offset",
    "source_span",
]
