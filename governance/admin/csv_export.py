"""CSV downloads from the admin, safe to open in a spreadsheet."""

import csv
import io

from django.http import HttpResponse


def spreadsheet_safe(value) -> str:
    """A cell as text that a spreadsheet shows and never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def csv_response(file_name: str, header: list[str], rows) -> HttpResponse:
    """A CSV download of `header` and then `rows` (an iterable of lists of cells)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the byte order mark tells Excel the file is UTF-8
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response
