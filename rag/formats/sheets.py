"""Excel .xlsx: every row as "列名：值，列名：值", per sheet (openpyxl, read-only).

The first non-empty row of a sheet names the columns; each later row is cited as
工作表“汇总”第12行 (the row number Excel shows).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted, open_zip


def read_xlsx(data: bytes, name: str) -> Extracted:
    import openpyxl

    open_zip(data, name, "Excel (.xlsx)")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, InvalidFileException, lxml errors, …
        raise DocumentError(f"{name}: not a readable .xlsx file ({type(exc).__name__}: {exc})") from exc
    out = Assembler()
    try:
        for sheet in book.worksheets:
            header: list[str] | None = None
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [cell_text(v) for v in row]
                if not any(cells):
                    continue
                if header is None:
                    header = [c or f"第{i}列" for i, c in enumerate(cells, start=1)]
                    continue
                pairs = [f"{header[i] if i < len(header) else f'第{i + 1}列'}：{v}"
                         for i, v in enumerate(cells) if v]
                out.add("，".join(pairs), f"工作表“{sheet.title}”第{number}行")
            if header is not None and not any(loc.label.startswith(f"工作表“{sheet.title}”")
                                              for loc in out.locations):
                out.add("，".join(header), f"工作表“{sheet.title}”")  # a sheet of one row
    finally:
        book.close()
    if not out.locations:
        raise DocumentError(f"{name}: the workbook holds no values")
    return out.extracted()


def cell_text(value: Any) -> str:
    """A cell as a person reads it: 12 (not 12.0), 2024-05-01, text stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()
