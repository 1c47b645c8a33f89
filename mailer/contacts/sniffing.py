"""What an import file really is, whatever its name says, and which encoding its text is in.

People rename files: an XLSX saved as `.csv`, a gzip or a program under a table's name. The
first bytes tell a workbook from text from anything else, so a file is never read as a table
of garbage. A CSV's encoding is UTF-8 when it decodes as such, cp1251 otherwise; when both
decode (cp1251 bytes can be valid UTF-8 by chance: «Сё» reads as «Ѹ»), the reading that gives
Russian text wins, and the report says which was used and why.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 1 << 16
_BLOCK = 1 << 20

# Magic numbers of files people mistake for tables, and what to tell them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "it is a gzip archive (unpack it first)"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "it is an old Excel .xls workbook (save it as XLSX or CSV)",
    ),
    (b"\x7fELF", "it is a program (ELF)"),
    (b"%PDF", "it is a PDF document"),
    (b"\x89PNG", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
    (b"7z\xbc\xaf\x27\x1c", "it is a 7-Zip archive (unpack it first)"),
    (b"Rar!", "it is a RAR archive (unpack it first)"),
    (b"\xfd7zXZ\x00", "it is an xz archive (unpack it first)"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Control bytes no text table holds (tab, LF, CR and ESC aside); a few are tolerated.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")

# Characters Russian CRM text is made of: ASCII, the Russian alphabet, typographic marks.
# Anything else in a reading (archaic Cyrillic, Latin-1 symbols, CJK) suggests mojibake.
_ODD = re.compile("[^\t\n\r\x20-\x7e\u0410-\u044f\u0401\u0451«»—–…№“”„‘’\u00a0]")


class NotATableError(ValueError):
    """The file is not a table (binary, an archive, a program); nothing was read from it."""


@dataclass(frozen=True)
class Encoding:
    """The codec a CSV is read with, and how it was chosen, for the import's report."""

    codec: str  # "utf-8-sig", "utf-8" or "cp1251"
    why: str = ""

    @property
    def label(self) -> str:
        name = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8"}.get(self.codec, self.codec)
        return f"{name} ({self.why})" if self.why else name


def sniff_kind(path: Path) -> str:
    """ "xlsx" for a workbook, "text" for text; NotATableError for anything else."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise NotATableError(f"{path.name} is not a table: {what}")
    if head.startswith(_UTF16_BOMS):
        raise NotATableError(
            f"{path.name} is UTF-16 text (Excel's «Unicode text»): save it as «CSV UTF-8»"
        )
    if b"\x00" in head or len(_CONTROL.findall(head)) > max(4, len(head) // 1000):
        raise NotATableError(f"{path.name} is not a table: it holds binary data, not text")
    return "text"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        what = "a readable XLSX file" if path.suffix.lower() in (".xlsx", ".xlsm") else "a table"
        raise NotATableError(f"{path.name} is not {what}: it is a damaged ZIP archive") from None
    if "xl/workbook.xml" in names or any(n.endswith("/workbook.xml") for n in names):
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        raise NotATableError(f"{path.name} is an OpenDocument spreadsheet: save it as XLSX or CSV")
    raise NotATableError(f"{path.name} is not a table: it is a ZIP archive (unpack it first)")


def detect_encoding(path: Path) -> Encoding:
    """UTF-8 (with or without BOM) or cp1251; when both decode, the one giving Russian text.

    NotATableError when neither decodes the whole file (cp1251 lacks only byte 0x98).
    """
    with path.open("rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return Encoding("utf-8-sig")
    utf8_odd = _odd_count(path, "utf-8")
    if utf8_odd is None:
        if _odd_count(path, "cp1251") is None:
            raise NotATableError(
                f"{path.name} is not a table: its text is neither UTF-8 nor cp1251"
            )
        return Encoding("cp1251")
    if utf8_odd == 0:
        return Encoding("utf-8")
    cp1251_odd = _odd_count(path, "cp1251")
    if cp1251_odd is not None and cp1251_odd < utf8_odd:
        return Encoding(
            "cp1251", "its bytes are valid UTF-8 too, but only cp1251 reads them as Russian"
        )
    return Encoding("utf-8")


def _odd_count(path: Path, codec: str) -> int | None:
    """How many characters of the whole file's reading in `codec` are odd for Russian text;
    None when it does not decode."""
    decoder = codecs.getincrementaldecoder(codec)()
    odd = 0
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                text = decoder.decode(block)
                if not block.isascii():  # ASCII reads alike in both, and is mostly all there is
                    odd += len(_ODD.findall(text))
            odd += len(_ODD.findall(decoder.decode(b"", final=True)))
    except UnicodeDecodeError:
        return None
    return odd
