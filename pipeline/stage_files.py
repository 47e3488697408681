"""Names of the files the stages write into the processed folder, for the stages that
read them. Extraction's live here so that reading its output (the report, the pages,
resolve, evaluate) does not import spaCy with the extract package; the other stages'
names move here as their stages are reworked."""

MENTIONS_FILE = "mentions.parquet"
EXTRACT_STATE_FILE = "extract_state.parquet"
RUN_INFO_FILE = "run_info.json"
