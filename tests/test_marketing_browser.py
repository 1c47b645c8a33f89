"""Marketing's desk in headless Chromium: a campaign's rule edited with its new dates shown
as it is typed, a preview the same as `mailer letters preview`, an import with bad rows and
its rejects downloaded, the heatmap opened and a day clicked. Screenshots in tests/artifacts."""

from __future__ import annotations

from sqlalchemy import func, select

from campaigns.models import Campaign
from mailer.contacts.models import Contact
from tests.conftest_browser import ARTIFACTS, PHONE, screenshot
from tests.marketing_data import MARKETING, marketing_year
from tests.test_marketing_import import IMPORT_CSV


def test_marketing_edits_a_rule_and_sees_the_new_dates_then_the_letters_moved(
    app, session, signed_in_page, live_url
):
    year = marketing_year(session)
    tab = signed_in_page(MARKETING)
    tab.click("nav >> text=Кампании")
    tab.goto(f"{live_url}/campaigns?year={year.year}")
    screenshot(tab, "marketing-campaigns")
    tab.click(f"#campaign-{year.mar8.id} a")
    tab.fill("#occasion_rule", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=10")
    tab.wait_for_function("document.querySelector('#next-dates').innerText.includes('10 марта')")
    assert tab.locator("#next-dates li").count() == 3
    tab.fill("#occasion_rule", "FREQ=MONTHLY")
    tab.wait_for_selector("#rule-error:not([hidden])")
    assert "FREQ=YEARLY" in tab.locator("#rule-error").inner_text()
    tab.fill("#occasion_rule", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=10")
    tab.wait_for_selector("#rule-error[hidden]", state="attached")
    screenshot(tab, "marketing-campaign-edit")
    tab.click("#save")
    tab.wait_for_selector("text=Перенесено")
    assert "10 марта" in tab.locator("#next-dates").inner_text()
    screenshot(tab, "marketing-campaign-saved")
    session.expire_all()
    assert session.get(Campaign, year.mar8.id).occasion_rule.endswith("BYMONTHDAY=10")


def test_the_preview_page_shows_what_the_command_prints(
    app, session, signed_in_page, live_url, runner
):
    year = marketing_year(session)
    tab = signed_in_page(MARKETING)
    tab.click("nav >> text=Предпросмотр")
    tab.fill("input[name=email]", year.contact.email)
    tab.select_option("select[name=kind]", "mar8")
    tab.click("#preview-form button[type=submit]")
    tab.wait_for_selector("#letter")
    cli = runner.invoke(
        args=["mailer", "letters", "preview", "--contact", year.contact.email, "--kind", "mar8"]
    )
    assert cli.exit_code == 0, cli.output
    headers, _, rest = cli.output.partition("\n\n--- text ---\n")
    text = rest.partition("\n\n--- html")[0]
    for line in headers.splitlines():
        name, _, value = line.partition(": ")
        if name in ("From", "Reply-To", "To", "Subject", "List-Unsubscribe-Post"):
            assert tab.locator(f"[data-header='{name}']").inner_text() == value, name
    assert tab.locator("#text-part").inner_text().rstrip("\n") == text.rstrip("\n")
    frame = tab.frame_locator("#html-part")
    assert "Иван Петрович" in frame.locator("body").inner_text()
    assert tab.locator("#greeting-text").inner_text() == "Здравствуйте, Иван Петрович!"
    screenshot(tab, "marketing-preview")
    # A full-page shot leaves the iframe blank in headless Chromium: the HTML part alone.
    tab.locator("#html-part").screenshot(path=ARTIFACTS / "marketing-preview-html.png")


def test_an_import_with_bad_rows_is_checked_confirmed_and_its_rejects_downloaded(
    app, session, signed_in_page, live_url, tmp_path
):
    marketing_year(session)
    before = session.scalar(select(func.count()).select_from(Contact))
    source = tmp_path / "crm.csv"
    source.write_text(IMPORT_CSV, encoding="utf-8")
    tab = signed_in_page(MARKETING)
    tab.click("nav >> text=Импорт")
    tab.set_input_files("input[name=file]", str(source))
    tab.click("#upload button[type=submit]")
    tab.wait_for_selector("#dry-run")
    assert tab.locator("#dry-run .rejected").inner_text() == "1"
    screenshot(tab, "marketing-import-dry-run")
    with tab.expect_download() as download:
        tab.click("#rejects")
    saved = tmp_path / "rejects.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "crm.rejects.csv"
    assert "not-an-email" in saved.read_text(encoding="utf-8")
    tab.click("#confirm")
    tab.wait_for_selector("#final")
    screenshot(tab, "marketing-import-done")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Contact)) == before + 2


def test_the_heatmap_opens_and_a_day_lists_its_letters(app, session, signed_in_page, live_url):
    year = marketing_year(session)
    tab = signed_in_page(MARKETING)
    tab.goto(f"{live_url}/calendar?year={year.year}")
    assert tab.locator("svg.heatmap rect").count() in (365, 366)
    screenshot(tab, "marketing-calendar")
    busy = tab.locator("svg.heatmap rect:not([data-count='0'])").first
    count = busy.get_attribute("data-count")
    busy.click()
    tab.wait_for_selector("#day-letters")
    assert tab.locator("#day-letters tbody tr").count() == int(count)
    screenshot(tab, "marketing-calendar-day")
    phone = signed_in_page(MARKETING, viewport=PHONE)
    phone.goto(f"{live_url}/outbox?q=toyota")
    screenshot(phone, "marketing-outbox-phone")
    phone.goto(f"{live_url}/funnel")
    screenshot(phone, "marketing-funnel-phone")
