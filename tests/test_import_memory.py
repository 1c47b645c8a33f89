"""Files built to eat memory import (or are refused) with a flat peak, measured in a subprocess.

Each file is generated here in tmp_path and imported by `python -m tests.import_peak` into a
fresh SQLite database: the peak RSS is that process's (and its background reader's) alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.xlsx_files import strings, write_xlsx

PEAK_MIB = 150
ROOT = Path(__file__).resolve().parent.parent


def import_peak(tmp_path: Path, path: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.import_peak", str(tmp_path / "peak.sqlite3"), str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    print(f"{path.name}: {result}")
    return result


def assert_flat(result: dict[str, object]) -> None:
    assert isinstance(result["peak_mib"], int) and isinstance(result["reader_peak_mib"], int)
    assert result["peak_mib"] < PEAK_MIB
    assert result["reader_peak_mib"] < PEAK_MIB


def test_one_200_mb_shared_string_is_a_rejected_field_not_a_gigabyte(tmp_path):
    # Slow-ish (about 6 s): 200 MB are compressed here and parsed in the subprocess.
    def huge() -> Iterable[bytes]:
        yield b"<si><t>"
        for _ in range(200):
            yield b"a" * (1 << 20)
        yield b"</t></si>"

    shared = [*strings("Email", "Имя", "ivan@x.example", "Иван", "petr@x.example"), *huge()]
    path = write_xlsx(tmp_path / "crm.xlsx", [[0, 1], [2, 3], [4, 5]], shared)
    assert path.stat().st_size < 1 << 20

    result = import_peak(tmp_path, path)

    assert (result["read"], result["accepted"], result["rejected"]) == (2, 1, 1)
    assert result["longest_first_name"] == 4
    assert_flat(result)
    rejects = (tmp_path / "crm.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[1].endswith(
        ";слишком длинное поле 'Имя': больше 4096 символов — сократите текст"
    )
    assert len(rejects[1]) < 5000  # the cell is cut to the limit there, never written whole


def test_millions_of_unused_shared_strings_are_never_loaded(tmp_path):
    unused = [b"<si><t>\xd0\x9d\xd0\xb5\xd1\x82</t></si>" * 100_000] * 60  # 6,000,000
    shared = [*strings("Email", "Имя", "ivan@x.example", "Иван"), *unused]
    path = write_xlsx(tmp_path / "crm.xlsx", [[0, 1], [2, 3]], shared)

    result = import_peak(tmp_path, path)

    assert (result["read"], result["accepted"], result["rejected"]) == (1, 1, 0)
    assert_flat(result)


def test_shared_strings_past_the_limit_refuse_the_file_in_one_line(tmp_path):
    # 13,000 strings of 5,000 characters, each kept cut to 4,097: 53 MB, past the 32 kept.
    filler = [b"<si><t>" + b"x" * 5000 + b"</t></si>"] * 13_000
    shared = [*strings("Email", "Имя", "ivan@x.example"), *filler]
    path = write_xlsx(tmp_path / "crm.xlsx", [[0, 1], [2, 13_002]], shared)

    result = import_peak(tmp_path, path)

    assert result["error"] == (
        "crm.xlsx is not a readable XLSX file: its shared strings take more than 32 MB"
    )
    assert_flat(result)


@pytest.mark.parametrize("where", ["header", "row"])
def test_fifty_million_separators_in_one_line_are_refused_in_one_line(tmp_path, where):
    path = tmp_path / "crm.csv"
    with path.open("wb") as out:
        if where == "row":
            out.write(b"Email;\xd0\x98\xd0\xbc\xd1\x8f\r\nivan@x.example;\xd0\x98\r\n")
        for _ in range(50):
            out.write(b";" * 1_000_000)
        out.write(b"\r\n")

    result = import_peak(tmp_path, path)

    assert result["error"] == (
        "crm.csv: the header line is longer than 16 MB"
        if where == "header"
        else "crm.csv, line 3: a line is longer than 2 MB; nothing from this line on was read"
    )
    assert_flat(result)


def test_a_million_column_header_names_ten_ignored_columns_and_counts_the_rest(tmp_path):
    path = tmp_path / "crm.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("Email,Имя")
        for start in range(0, 1_000_000, 100_000):
            out.write("".join(f",col{i}" for i in range(start, start + 100_000)))
        out.write("\r\nivan@x.example,Иван\r\n")

    result = import_peak(tmp_path, path)

    assert (result["read"], result["accepted"]) == (1, 1)
    assert result["ignored"] == [*(f"col{i}" for i in range(10)), "… and 999,990 more"]
    assert_flat(result)
