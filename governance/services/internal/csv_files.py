"""Uploaded CSV files, as the bulk assignment and the people import read them: the checks that
it is text a spreadsheet wrote, not too large, and the dialect of its header line."""

import csv

from django.core.files.uploadedfile import UploadedFile

from governance.services.errors import InvalidInput

MAX_BYTES = 1024 * 1024
CSV_CONTENT_TYPES = {"text/csv", "application/csv", "text/comma-separated-values"}


def file_refusal(message: str, code: str = "invalidFile") -> InvalidInput:
    return InvalidInput(message, field="file", code=code)


def csv_text(upload: UploadedFile) -> str:
    """The upload's text; refuses a file that is not CSV, not UTF-8 or larger than MAX_BYTES."""
    name = (upload.name or "").rsplit("/", 1)[-1]
    content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if not name.lower().endswith(".csv") and content_type not in CSV_CONTENT_TYPES:
        raise file_refusal(f"“{name}” is not a CSV file. Upload a .csv file with one person "
                           "per line.", code="notCsv")
    if upload.size > MAX_BYTES:
        raise file_refusal(f"The file is too large ({upload.size / 1024 / 1024:.1f} MB). "
                           f"Upload at most {MAX_BYTES // 1024 // 1024} MB, or split it into "
                           "several files.", code="fileTooLarge")
    upload.seek(0)
    raw = upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise file_refusal(f"The file is too large. Upload at most "
                           f"{MAX_BYTES // 1024 // 1024} MB, or split it into several files.",
                           code="fileTooLarge")
    if b"\x00" in raw:
        raise file_refusal(f"“{name}” is not a CSV file: it holds binary data.", code="notCsv")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise file_refusal(f"“{name}” is not UTF-8 text. Save it as “CSV UTF-8” and upload it "
                           "again.", code="notCsv") from None


def csv_dialect(text: str) -> type[csv.Dialect]:
    """Excel's CSV, with the delimiter of the header line (spreadsheets in some languages
    write semicolons)."""
    header = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    # Strict: a stray or unterminated quote is an error, not a row swallowing the next ones.
    return type("Uploaded", (csv.excel,), {"delimiter": delimiter, "strict": True})
