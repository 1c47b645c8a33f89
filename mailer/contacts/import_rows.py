"""Reading an import file's rows and cleaning them, in this process or in a second one.

Cleaning (e-mail and phone validation, tag parsing) costs as much CPU as storing, so a
large file is read and cleaned in a background process while this one writes to the
database; chunks travel through a bounded queue so memory stays flat.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailer.contacts.book import (
    Consent,
    ContactError,
    ContactFields,
    clean_fields,
    strip_invisible,
)
from mailer.contacts.column_plan import ColumnPlan
from mailer.contacts.crm_cells import (
    has_several,
    pick_emails,
    pick_phones,
    read_salutation,
    split_full_name,
)
from mailer.contacts.exporting import restore
from mailer.contacts.folding import fold
from mailer.contacts.table_rows import take_chunk
from mailer.contacts.tabular import SourceRow, TableError, open_table
from mailer.plurals import plural_ru
from mailer.storage.pickling import pickle_as_field_tuples
from mailer.tags.tagging import TagVocabulary, UnknownTagError, parse_tags

_YES = {"да", "yes", "y", "true", "1", "+", "есть", "согласен", "согласна", "дано", "получено"}
_NO = {"нет", "no", "n", "false", "0", "-", "не дано", "отказ", "отказался", "отказалась"}
_DATE = re.compile(r"^(?:(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{4})-(\d{2})-(\d{2}))")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no e-mail column, unreadable...)."""


class RowRejected(Exception):
    """A row that cannot be imported; the message is the reason written to the reject file."""


def parse_consent(value: str, source: str) -> Consent | None:
    """Consent from a cell: yes/no words or the date it was given; None for an empty cell."""
    text = fold(value)
    if not text:
        return None
    if text in _YES:
        return Consent(True, None, source)
    if text in _NO:
        return Consent(False, None, source)
    if m := _DATE.match(text):
        d, mo, y = (m[1], m[2], m[3]) if m[1] else (m[6], m[5], m[4])
        try:
            return Consent(True, datetime(int(y), int(mo), int(d), tzinfo=UTC), source)
        except ValueError:
            pass
    raise ValueError(
        f"непонятное согласие '{value}': напишите «да», «нет» или дату согласия (дд.мм.гггг)"
    )


@dataclass(frozen=True)
class OwnerRef:
    id: int
    name: str
    is_active: bool


@dataclass
class OwnerDirectory:
    """Managers by folded e-mail or name; a name two managers share maps to None."""

    by_key: dict[str, OwnerRef | None] = field(default_factory=dict)

    def add(self, ref: OwnerRef, email: str) -> None:
        self.by_key[email] = ref
        name = fold(ref.name)
        # CRMs write a manager's name either way round: "Анна Смирнова", "Смирнова Анна".
        for key in dict.fromkeys((name, _word_set(name))):
            self.by_key[key] = None if key in self.by_key else ref

    def find(self, text: str) -> OwnerRef:
        key = fold(strip_invisible(text))
        if key not in self.by_key:
            key = _word_set(key)
        if key not in self.by_key:
            raise RowRejected(
                f"неизвестный ответственный '{text}': такого менеджера нет — впишите его"
                " имя или e-mail, как в списке менеджеров"
            )
        ref = self.by_key[key]
        if ref is None:
            raise RowRejected(
                f"неоднозначный ответственный '{text}': так зовут нескольких менеджеров"
                " — впишите e-mail нужного"
            )
        if not ref.is_active:
            raise RowRejected(
                f"неактивный ответственный: {ref.name} отключён — впишите другого менеджера"
            )
        return ref


def _word_set(key: str) -> str:
    return "\t".join(sorted(key.split()))


@dataclass
class CleanRow:
    """A source row after cleaning, waiting for the chunk's database checks."""

    source: SourceRow
    fields: ContactFields
    owner_id: int | None
    tag_ids: list[int]


@dataclass
class Chunk:
    """One chunk of the file: rows to store, rows already rejected, and where reading is."""

    rows: list[CleanRow] = field(default_factory=list)
    rejects: list[tuple[SourceRow, str]] = field(default_factory=list)
    blank_rows: int = 0
    progress: int = 0  # bytes (CSV) or rows (XLSX) read so far


@dataclass
class RowCleaner:
    """Everything cleaning a row needs; plain data, so it can go to another process."""

    plan: ColumnPlan
    width: int
    owners: OwnerDirectory
    default_owner_id: int | None
    vocabulary: TagVocabulary
    tag_ids: dict[str, int]
    filename: str
    phone_region: str = "RU"

    def clean(self, source: SourceRow) -> CleanRow:
        if source.problem:  # the reader found it too large to read whole
            raise RowRejected(source.problem)
        values = source.values
        if len(values) > self.width:
            raise RowRejected(
                f"лишние ячейки: {plural_ru(len(values), 'ячейка', 'ячейки', 'ячеек')},"
                f" а в заголовке {plural_ru(self.width, 'колонка', 'колонки', 'колонок')}"
                " — проверьте разделители и кавычки в строке"
            )
        cells = {
            name: restore(values[index]) if index < len(values) else ""
            for name, index in self.plan.single.items()
        }
        try:
            email, extra_emails = self._emails(values)
            phone, extra_phones = self._phones(values)
            first, middle, last, position = _names(cells)
            fields = clean_fields(
                email=email,
                first_name=first,
                middle_name=middle,
                last_name=last,
                company=cells.get("company", ""),
                position=position,
                phone=phone,
                consent=self._consent(cells, source.line),
                phone_region=self.phone_region,
            )
            codes = parse_tags(cells.get("tags", ""), self.vocabulary)
        except UnknownTagError as exc:
            words = ", ".join(f"'{w}'" for w in exc.words)
            raise RowRejected(
                f"неизвестный тег: {words} — впишите тег из справочника тегов или уберите его"
            ) from None
        except (ContactError, ValueError) as exc:
            raise RowRejected(str(exc)) from None
        if extra_emails or extra_phones:
            fields.extra_emails = tuple(e for e in extra_emails if e != fields.email)
            fields.extra_phones = tuple(p for p in extra_phones if p != fields.phone)
        if salutation := cells.get("salutation"):
            fields.salutation = read_salutation(salutation)
        if (source_id := cells.get("source_id")) and (source_id := source_id.strip()):
            fields.source_system = self.plan.source_system
            fields.source_id = strip_invisible(source_id)[:64]
        owner_text = cells.get("owner", "").strip()
        owner_id = self.owners.find(owner_text).id if owner_text else self.default_owner_id
        return CleanRow(source, fields, owner_id, [self.tag_ids[c] for c in codes])

    def _emails(self, values: list[str]) -> tuple[str, tuple[str, ...]]:
        """The e-mail as typed when one cell holds it (the common case), else the first
        valid one with the others, normalised."""
        columns = self.plan.emails
        if len(columns) == 1:
            cell = restore(values[columns[0]]) if columns[0] < len(values) else ""
            if not has_several(cell, is_email=True):
                return cell, ()
        return pick_emails([restore(values[i]) if i < len(values) else "" for i in columns])

    def _phones(self, values: list[str]) -> tuple[str, tuple[str, ...]]:
        columns = self.plan.phones
        if not columns:
            return "", ()
        if len(columns) == 1:
            cell = restore(values[columns[0]]) if columns[0] < len(values) else ""
            if not has_several(cell, is_email=False):
                return cell, ()
        cells = [restore(values[i]) if i < len(values) else "" for i in columns]
        return pick_phones(cells, self.phone_region)

    def _consent(self, cells: dict[str, str], line: int) -> Consent | None:
        consent_text = cells.get("consent", "")
        where = f"импорт {self.filename}, строка {line}: «{consent_text.strip()}»"
        if given_by := " ".join(cells.get("consent_source", "").split()):
            where = f"{given_by} ({where})"
        return parse_consent(consent_text, where)


def _names(cells: dict[str, str]) -> tuple[str, str, str, str]:
    """(given name, patronymic, surname, position): a one-column name split when the
    name columns are empty; a job title in it becomes the position when that is empty."""
    first, middle, last = (cells.get(k, "") for k in ("first_name", "middle_name", "last_name"))
    position = cells.get("position", "")
    full = cells.get("full_name", "")
    if full.strip() and not (first.strip() or middle.strip() or last.strip()):
        first, middle, last, as_position = split_full_name(strip_invisible(full))
        position = position if position.strip() else as_position
    return first, middle, last, position


def read_chunks(
    path: Path, cleaner: RowCleaner, chunk_size: int, sheet: str | None = None
) -> Iterator[Chunk]:
    """The file's rows, cleaned, chunk by chunk; TableError if it stops being readable."""
    table = open_table(path, sheet=sheet)
    rows = iter(table.rows())
    while source_rows := take_chunk(rows, chunk_size):
        chunk = Chunk()
        for source in source_rows:
            if not any(v.strip() for v in source.values):
                chunk.blank_rows += 1
                continue
            try:
                chunk.rows.append(cleaner.clean(source))
            except RowRejected as exc:
                chunk.rejects.append((source, str(exc)))
        chunk.progress = getattr(table, "bytes_read", 0) or source_rows[-1].line
        yield chunk


_DONE = "done"


def _read_into(
    out: mp.Queue, path: Path, cleaner: RowCleaner, chunk_size: int, sheet: str | None
) -> None:
    pickle_as_field_tuples(SourceRow, ContactFields, Consent, CleanRow)  # what a chunk holds
    try:
        for chunk in read_chunks(path, cleaner, chunk_size, sheet):
            out.put(chunk)
        out.put(_DONE)
    except BaseException as exc:  # handed to the parent, which raises it there
        out.put(exc)


def read_chunks_in_background(
    path: Path, cleaner: RowCleaner, chunk_size: int, sheet: str | None = None
) -> Iterator[Chunk]:
    """`read_chunks` run in a second process, at most two chunks ahead of the consumer."""
    # fork: the child only reads the file (it never touches the inherited database
    # connections, and exits without cleanup), and it needs no importable __main__.
    is_fork = "fork" in mp.get_all_start_methods()
    context = mp.get_context("fork") if is_fork else mp.get_context("spawn")
    out: mp.Queue = context.Queue(maxsize=2)
    process = context.Process(target=_read_into, args=(out, path, cleaner, chunk_size, sheet))
    process.start()
    try:
        while True:
            try:
                item = out.get(timeout=1)
            except queue.Empty:
                if not process.is_alive():
                    raise TableError(f"reading {path.name} stopped unexpectedly") from None
                continue
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, str):  # _DONE
                return
            yield item
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
