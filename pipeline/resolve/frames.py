"""Tables from Python records, built fast."""

from __future__ import annotations

from typing import Any

import pandas as pd


def records_frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """`pd.DataFrame(records, columns=columns)` for records that all have these keys,
    built column by column: the same table, several times faster for many rows."""
    if not records:  # pandas types an empty table's columns differently when given lists
        return pd.DataFrame(records, columns=columns)
    return pd.DataFrame({c: [r[c] for r in records] for c in columns}, columns=columns)
