"""A whole-table report's planner settings hold inside its block only."""

from __future__ import annotations

from sqlalchemy import text

from mailer.storage.aggregates import whole_table_report


def test_jit_is_off_inside_the_block_and_back_after_it(session):
    if session.get_bind().dialect.name != "postgresql":
        with whole_table_report(session):  # SQLite has no such settings: nothing to do
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        return
    show = "SELECT current_setting('jit'), current_setting('work_mem')"
    outside = session.execute(text(show)).one()
    with whole_table_report(session):
        assert tuple(session.execute(text(show)).one()) == ("off", "64MB")
    assert session.execute(text(show)).one() == outside
