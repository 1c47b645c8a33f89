"""An XLSX sheet read as a stream: rows one at a time, shared strings only as far as used.

openpyxl's read-only mode still loads every shared string into memory before the first
row: one 200 MB string, or millions nobody uses, cost a gigabyte. Here the sheet and the
shared strings are parsed by expat in blocks; a shared string is parsed when a cell first
needs it and kept compactly (UTF-8 bytes and offsets), a cell's text is kept only up to
`cell_chars` characters (a longer one is known to be too long, never stored whole), and a
row keeps only its first `row_cells` cells. A DOCTYPE is refused: a workbook has none, and
entity tricks start there.
"""

from __future__ import annotations

import posixpath
import zipfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from xml.etree import ElementTree
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

# Blocks fed to expat. A sheet's block is small: its cells may each name a long shared
# string, and the rows of one block are held together before they are handed on.
_SHEET_FEED = 1 << 14
_STRINGS_FEED = 1 << 20
_SMALL_PART = 32 << 20  # workbook.xml, styles.xml and the relationship parts
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


class XlsxError(ValueError):
    """The workbook cannot be read (damaged, or over a limit); the message says why."""


@dataclass(frozen=True)
class Limits:
    cell_chars: int  # a cell's text is kept up to this many characters, plus one
    row_cells: int  # a row keeps its first cells up to this many, plus one
    shared_strings: int  # at most this many shared strings are kept
    shared_bytes: int  # and at most this many bytes of them


@dataclass(frozen=True)
class SheetRow:
    number: int  # the row's number in the sheet, from 1
    values: list[str]  # up to limits.row_cells + 1 cells, without trailing empty ones
    width: int  # the row's real width: its last non-empty cell's column


class Workbook:
    """A workbook's sheets by name; rows of one of them as a stream."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits) -> None:
        self._zip = archive
        self.limits = limits
        book_part = _office_document(archive)
        rels = _relationships(archive, book_part)
        root = _small_xml(archive, book_part)
        self.sheets: dict[str, str] = {}  # name → part
        for sheet in (e for e in root.iter() if _local(e.tag) == "sheet"):
            rid = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), "")
            if rid in rels:
                self.sheets[sheet.get("name", "")] = rels[rid][1]
        pr = next((e for e in root.iter() if _local(e.tag) == "workbookPr"), None)
        is_1904 = pr is not None and pr.get("date1904", "") in ("1", "true")
        self._epoch = CALENDAR_MAC_1904 if is_1904 else CALENDAR_WINDOWS_1900
        by_type = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        self._strings_part = by_type.get("sharedStrings")
        self._date_styles = _date_styles(archive, by_type.get("styles"))

    def rows(self, sheet: str) -> Iterator[SheetRow]:
        strings = _SharedStrings(self._zip, self._strings_part, self.limits)
        reader = _SheetReader(strings.get, self._date_styles, self._epoch, self.limits)
        try:
            yield from _parse(self._zip, self.sheets[sheet], reader.parser)
        finally:
            strings.close()

    def close(self) -> None:
        self._zip.close()


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _small_xml(archive: zipfile.ZipFile, part: str) -> ElementTree.Element:
    try:
        info = archive.getinfo(part)
    except KeyError:
        raise XlsxError(f"the part {part} is missing") from None
    if info.file_size > _SMALL_PART:
        raise XlsxError(f"the part {part} is {info.file_size:,} bytes, too large")
    data = archive.read(part)
    if b"<!DOCTYPE" in data:
        raise XlsxError(f"the part {part} declares a DOCTYPE")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise XlsxError(f"the part {part} is damaged: {exc}") from None


def _office_document(archive: zipfile.ZipFile) -> str:
    if "_rels/.rels" in archive.namelist():
        for kind, target in _relationships(archive, "").values():
            if kind.endswith("/officeDocument"):
                return target
    return "xl/workbook.xml"


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id → (type, the target part's full name)."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels_part not in archive.namelist():
        return {}
    found: dict[str, tuple[str, str]] = {}
    for rel in _small_xml(archive, rels_part).iter(f"{{{_RELS}}}Relationship"):
        target = rel.get("Target", "")
        full = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(full))
    return found


def _date_styles(archive: zipfile.ZipFile, part: str | None) -> frozenset[int]:
    """The cell styles whose number format shows a date: their numbers are read as dates."""
    if part is None or part not in archive.namelist():
        return frozenset()
    root = _small_xml(archive, part)
    formats: dict[int, str] = {k: v for k, v in BUILTIN_FORMATS.items()}
    for fmt in (e for e in root.iter() if _local(e.tag) == "numFmt"):
        formats[int(fmt.get("numFmtId", "0"))] = fmt.get("formatCode", "")
    xfs = next((e for e in root.iter() if _local(e.tag) == "cellXfs"), None)
    if xfs is None:
        return frozenset()
    ids = [int(xf.get("numFmtId", "0")) for xf in xfs if _local(xf.tag) == "xf"]
    return frozenset(i for i, fmt_id in enumerate(ids) if is_date_format(formats.get(fmt_id)))


def _parse(archive: zipfile.ZipFile, part: str, parser: _Parser) -> Iterator[SheetRow]:
    """Feed a part to the parser in blocks, yielding the rows it completes."""
    try:
        with archive.open(part) as stream:
            for block in iter(lambda: stream.read(_SHEET_FEED), b""):
                parser.feed(block)
                yield from parser.take()
            parser.feed(b"", final=True)
            yield from parser.take()
    except KeyError:
        raise XlsxError(f"the part {part} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise XlsxError(f"the part {part} is damaged: {exc}") from None


@dataclass
class _Text:
    """Character data kept up to `limit` + 1 characters: enough to know it is too long."""

    limit: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    on: bool = False

    def add(self, data: str) -> None:
        if self.on and self.size <= self.limit:
            self.parts.append(data[: self.limit + 1 - self.size])
            self.size += len(data)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        self.size = 0
        return text


class _Parser:
    """An expat parser that refuses DOCTYPEs and collects finished rows."""

    def __init__(self, part: str) -> None:
        self.part = part
        self.done: list[SheetRow] = []
        self.expat = expat.ParserCreate()
        self.expat.buffer_text = True
        self.expat.buffer_size = _STRINGS_FEED
        self.expat.StartDoctypeDeclHandler = self._doctype

    def _doctype(self, *_args: object) -> None:
        raise XlsxError(f"the part {self.part} declares a DOCTYPE")

    def feed(self, block: bytes, *, final: bool = False) -> None:
        try:
            self.expat.Parse(block, final)
        except expat.ExpatError as exc:
            raise XlsxError(f"the part {self.part} is damaged: {exc}") from None

    def take(self) -> list[SheetRow]:
        rows, self.done = self.done, []
        return rows


class _SharedStrings:
    """The workbook's shared strings, parsed only as far as a cell asks."""

    def __init__(self, archive: zipfile.ZipFile, part: str | None, limits: Limits) -> None:
        self.limits = limits
        self._data = bytearray()
        self._ends = array("I")  # offsets: the data stays under 4 GB
        self._text = _Text(limits.cell_chars)
        self._full = ""  # why no more strings are kept: a cell needing one refuses the file
        self._phonetic = 0  # inside <rPh>: a reading aid, not the text
        self._stream: IO[bytes] | None = None
        self._parser = _Parser(part or "sharedStrings")
        if part and part in archive.namelist():
            self._stream = archive.open(part)
        p = self._parser.expat
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text.add

    def get(self, index: int) -> str:
        while index >= len(self._ends) and self._stream is not None and not self._full:
            self._feed()
        if index >= len(self._ends) and self._full:
            raise XlsxError(self._full)
        if not 0 <= index < len(self._ends):
            return ""
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _feed(self) -> None:
        assert self._stream is not None
        try:
            block = self._stream.read(_STRINGS_FEED)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise XlsxError(f"the shared strings are damaged: {exc}") from None
        self._parser.feed(block, final=not block)
        if not block:
            self._stream.close()
            self._stream = None

    def _start(self, name: str, _attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "rPh":
            self._phonetic += 1
        elif tag == "t" and not self._phonetic:
            self._text.on = True

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag == "rPh":
            self._phonetic -= 1
        elif tag == "t":
            self._text.on = False
        elif tag == "si" and not self._full:  # past the limits strings are not kept
            text = self._text.take().encode()
            if len(self._ends) >= self.limits.shared_strings:
                self._full = f"it has more than {self.limits.shared_strings:,} shared strings"
            elif len(self._data) + len(text) > self.limits.shared_bytes:
                megabytes = self.limits.shared_bytes >> 20
                self._full = f"its shared strings take more than {megabytes} MB"
            else:
                self._data += text
                self._ends.append(len(self._data))


class _SheetReader:
    """Turns a sheet's XML events into rows of cell texts, as a person sees them."""

    def __init__(
        self,
        shared: Callable[[int], str],
        date_styles: frozenset[int],
        epoch: datetime,
        limits: Limits,
    ) -> None:
        self._shared = shared
        self._date_styles = date_styles
        self._epoch = epoch
        self._limits = limits
        self._text = _Text(limits.cell_chars)
        self._row = 0  # the current row's number
        self._cells: dict[int, str] = {}
        self._width = 0
        self._column = -1
        self._type = ""
        self._style = 0
        self._has_value = False
        self.parser = _Parser("the sheet")
        p = self.parser.expat
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text.add

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c":
            ref = attrs.get("r")
            self._column = _column(ref) if ref else self._column + 1
            self._type = attrs.get("t", "n")
            self._style = int(attrs.get("s", "0") or 0)
            self._has_value = False
        elif tag == "v" or (tag == "t" and self._type == "inlineStr"):
            self._text.on = True
            self._has_value = True
        elif tag == "row":
            number = attrs.get("r")
            self._row = int(number) if number else self._row + 1
            self._cells, self._width, self._column = {}, 0, -1

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag in ("v", "t"):
            self._text.on = False
        elif tag == "c":
            text = self._text.take()
            value = self._value(text) if self._has_value else ""
            if value:
                self._width = max(self._width, self._column + 1)
                if self._column <= self._limits.row_cells:
                    self._cells[self._column] = value
        elif tag == "row":
            kept = min(self._width, self._limits.row_cells + 1)
            values = [self._cells.get(i, "") for i in range(kept)]
            self.parser.done.append(SheetRow(self._row, values, self._width))

    def _value(self, text: str) -> str:
        kind = self._type
        if kind == "s":
            return self._shared(int(text)) if text.strip().isdigit() else ""
        if kind == "b":
            return "да" if text.strip() in ("1", "true") else "нет"
        if kind in ("str", "inlineStr", "e", "d"):
            return _iso_date(text) if kind == "d" else text
        return self._number(text)

    def _number(self, text: str) -> str:
        try:
            number = float(text)
        except ValueError:
            return text
        if self._style in self._date_styles:
            try:
                moment = from_excel(number, self._epoch)
            except (OverflowError, ValueError):
                return text
            if isinstance(moment, datetime):
                return _datetime_text(moment)
            return moment.isoformat()
        if number.is_integer() and "e" not in text.lower() and "." not in text:
            return str(int(text))
        return str(int(number)) if number.is_integer() else str(number)


def _column(ref: str) -> int:
    """The zero-based column of a cell reference such as `AB12`."""
    index = 0
    for ch in ref:
        if not ch.isalpha():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _datetime_text(moment: datetime) -> str:
    return moment.date().isoformat() if moment.time() == datetime.min.time() else moment.isoformat()


def _iso_date(text: str) -> str:
    try:
        return _datetime_text(datetime.fromisoformat(text))
    except ValueError:
        return text
