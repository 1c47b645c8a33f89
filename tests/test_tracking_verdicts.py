"""Bot verdicts: scanner bursts, previews and libraries are bots; readers and forwards people."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.verdicts import (
    DEFAULT_SCANNERS,
    REASON_TEXTS,
    ClickFacts,
    Judgement,
    Reason,
    ScannerList,
    Verdict,
    VerdictSettings,
    judge_letter_clicks,
)

SENT = datetime(2026, 3, 2, 9, 14, 3, tzinfo=UTC)
CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CHROME_WIN_UPDATED = CHROME_WIN.replace("Chrome/120.0.0.0", "Chrome/122.0.0.0")
YANDEX_BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
SCANNERS = ScannerList.load()
RULES = VerdictSettings()
LINKS = {1: "catalogue", 2: "offer", 3: "other", 9: "honeypot"}


def click(id: int, link_id: int = 1, *, after: float, **overrides) -> ClickFacts:
    """A GET from a Moscow home connection `after` seconds after the letter was sent."""
    fields = dict(
        id=id,
        letter_id=700,
        link_id=link_id,
        link_role=LINKS[link_id],
        method="GET",
        ip="95.165.12.34",
        user_agent=YANDEX_BROWSER,
        clicked_at=SENT + timedelta(seconds=after),
        sent_at=SENT,
    )
    fields.update(overrides)
    return ClickFacts(**fields)


def judge(*clicks: ClickFacts, **options) -> dict[int, Judgement]:
    return judge_letter_clicks(clicks, settings=RULES, scanners=SCANNERS, **options)


def test_a_safe_links_burst_is_a_bot_and_the_reader_two_hours_later_is_a_person():
    judged = judge(
        click(1, 1, after=38.2, ip="40.94.29.84", user_agent=CHROME_WIN),
        click(2, 2, after=39.0, ip="40.94.31.12", user_agent=CHROME_WIN),
        click(3, 3, after=40.1, ip="40.94.104.7", user_agent=CHROME_WIN),
        click(4, 1, after=2 * 3600 + 17),
    )
    for scanned in (1, 2, 3):
        assert judged[scanned].verdict == Verdict.BOT
        assert judged[scanned].reasons == (Reason.SCANNER_NETWORK, Reason.BURST)
    assert judged[4] == Judgement(Verdict.HUMAN, (Reason.PERSON,))


def test_a_burst_from_an_unknown_network_is_still_a_bot():
    judged = judge(
        click(1, 1, after=61.0, ip="203.0.113.5", user_agent=CHROME_WIN),
        click(2, 2, after=61.4, ip="203.0.113.6", user_agent=CHROME_WIN),
        click(3, 3, after=62.9, ip="198.51.100.7", user_agent=CHROME_WIN),
    )
    assert {j.reasons for j in judged.values()} == {(Reason.BURST,)}


def test_a_reader_opening_three_links_over_a_minute_is_a_person():
    judged = judge(click(1, 1, after=600), click(2, 2, after=625), click(3, 3, after=660))
    assert {j.verdict for j in judged.values()} == {Verdict.HUMAN}


def test_both_links_of_a_two_link_letter_opened_in_a_second_are_a_burst():
    pair = (click(1, 1, after=45.0), click(2, 2, after=45.8))
    assert {j.verdict for j in judge(*pair).values()} == {Verdict.HUMAN}
    judged = judge(*pair, letter_link_count=2)
    assert {j.reasons for j in judged.values()} == {(Reason.BURST,)}


def test_the_same_link_clicked_twice_in_a_second_is_not_a_burst():
    judged = judge(click(1, 2, after=300), click(2, 2, after=300.4), letter_link_count=2)
    assert {j.verdict for j in judged.values()} == {Verdict.HUMAN}


def test_a_head_request_or_a_prefetch_is_a_bot():
    judged = judge(
        click(1, after=3600, method="HEAD"),
        click(2, after=3601, purpose="prefetch;prerender"),
        click(3, after=3602, method="OPTIONS"),
    )
    assert judged[1] == Judgement(Verdict.BOT, (Reason.HEAD_REQUEST,))
    assert judged[2] == Judgement(Verdict.BOT, (Reason.PREFETCH,))
    assert judged[3] == Judgement(Verdict.BOT, (Reason.UNUSUAL_METHOD,))


@pytest.mark.parametrize(
    "user_agent",
    [
        "python-requests/2.31.0",
        "curl/8.4.0",
        "Go-http-client/1.1",
        "okhttp/4.12.0",
        "Java/17.0.9",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "TelegramBot (like TwitterBot)",
        "WhatsApp/2.23.20.0 A",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/119.0.6045.105 Safari/537.36",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
        "Microsoft Office Existence Discovery",
    ],
)
def test_a_library_previewer_or_scanner_user_agent_is_a_bot(user_agent):
    judged = judge(click(1, after=7200, user_agent=user_agent))
    assert judged[1] == Judgement(Verdict.BOT, (Reason.SCANNER_USER_AGENT,))


def test_a_click_without_a_user_agent_is_a_bot():
    assert judge(click(1, after=7200, user_agent="  "))[1].reasons == (Reason.NO_USER_AGENT,)


def test_the_honeypot_and_its_clients_clicks_around_it_are_bots_but_not_someone_elses():
    judged = judge(
        click(1, 1, after=120.0, ip="203.0.113.10", user_agent=CHROME_WIN),
        click(2, 9, after=121.5, ip="203.0.113.10", user_agent=CHROME_WIN),
        click(3, 2, after=123.0, ip="203.0.113.77", user_agent=CHROME_WIN),  # same /24
        click(4, 2, after=122.0),  # the reader, at the same moment, elsewhere
        click(5, 1, after=900.0, ip="203.0.113.10", user_agent=CHROME_WIN),  # much later
    )
    assert judged[1] == Judgement(Verdict.BOT, (Reason.NEAR_HONEYPOT,))
    assert judged[2] == Judgement(Verdict.BOT, (Reason.HONEYPOT, Reason.NEAR_HONEYPOT))
    assert judged[3] == Judgement(Verdict.BOT, (Reason.NEAR_HONEYPOT,))
    assert judged[4].verdict == Verdict.HUMAN
    assert judged[5].verdict != Verdict.BOT


def test_a_click_before_the_letter_could_be_read_is_a_bot():
    judged = judge(click(1, after=4), click(2, after=-30), click(3, after=25))
    assert judged[1] == Judgement(Verdict.BOT, (Reason.TOO_SOON,))
    assert judged[2] == Judgement(Verdict.BOT, (Reason.TOO_SOON,))
    assert judged[3].verdict == Verdict.HUMAN


def test_a_letter_without_a_sending_time_is_never_too_soon():
    assert judge(click(1, after=1, sent_at=None))[1].verdict == Verdict.HUMAN


def test_a_click_from_another_browser_and_network_is_a_forward_and_the_reader_stays_human():
    judged = judge(
        click(1, 1, after=3600),  # the reader at home
        click(2, 2, after=3 * 3600, ip="178.176.74.20", user_agent=IPHONE),  # a colleague
        click(3, 2, after=4 * 3600, ip="95.165.12.77"),  # the reader again, new lease
        click(4, 2, after=5 * 3600, user_agent=IPHONE),  # the reader's phone on home Wi-Fi
        click(5, 1, after=6 * 3600, ip="46.138.9.1"),  # the reader's laptop at a cafe
        click(6, 2, after=7 * 3600, ip="178.176.74.21", user_agent=CHROME_WIN_UPDATED),
    )
    assert judged[1] == Judgement(Verdict.HUMAN, (Reason.PERSON,))
    assert judged[2] == Judgement(Verdict.FORWARDED, (Reason.OTHER_BROWSER_AND_NETWORK,))
    assert [judged[i].verdict for i in (3, 4, 5)] == [Verdict.HUMAN] * 3
    assert judged[6].verdict == Verdict.FORWARDED


def test_a_browser_update_does_not_make_the_reader_a_stranger():
    judged = judge(
        click(1, after=3600, ip="95.165.12.34", user_agent=CHROME_WIN),
        click(2, after=9 * 86400, ip="31.173.80.2", user_agent=CHROME_WIN_UPDATED),
    )
    assert judged[2].verdict == Verdict.HUMAN


def test_a_bot_click_never_makes_the_reader_look_forwarded():
    judged = judge(
        click(1, 1, after=40, ip="40.107.22.5", user_agent=CHROME_WIN),
        click(2, 1, after=5000, ip="178.176.74.20", user_agent=IPHONE),
    )
    assert judged[1].verdict == Verdict.BOT
    assert judged[2].verdict == Verdict.HUMAN


def test_ipv6_scanners_readers_and_forwards_are_told_apart():
    judged = judge(
        click(1, after=50, ip="2a01:111:f403:c901::1", user_agent=CHROME_WIN),
        click(2, after=60, ip="::ffff:40.94.77.1", user_agent=CHROME_WIN),
        click(3, after=3600, ip="2a02:6b8:a:1::2"),  # the reader
        click(4, after=3700, ip="2a02:6b8:a:ffff::9", user_agent=IPHONE),  # same /48
        click(5, after=3800, ip="2a02:6b8:b::1", user_agent=CHROME_WIN),  # other /48, browser
    )
    assert judged[1].reasons == (Reason.SCANNER_NETWORK,)
    assert judged[2].reasons == (Reason.SCANNER_NETWORK,)
    assert [judged[i].verdict for i in (3, 4, 5)] == [
        Verdict.HUMAN,
        Verdict.HUMAN,
        Verdict.FORWARDED,
    ]


def test_an_address_that_is_not_an_address_proves_nothing():
    judged = judge(click(1, after=3600), click(2, after=7200, ip="unknown", user_agent=IPHONE))
    assert judged[2].verdict == Verdict.HUMAN


def test_every_reason_has_a_russian_text_for_the_manager():
    assert set(REASON_TEXTS) == set(Reason)
    assert all(any("а" <= ch <= "я" for ch in text.lower()) for text in REASON_TEXTS.values())
    assert judge(click(1, after=4))[1].texts == (REASON_TEXTS[Reason.TOO_SOON],)


def test_it_judges_one_letter_at_a_time_with_aware_times_and_known_roles():
    with pytest.raises(ValueError, match="one letter"):
        judge(click(1, after=60), click(2, after=70, letter_id=701))
    with pytest.raises(ValueError, match="unique"):
        judge(click(1, after=60), click(1, after=70))
    with pytest.raises(ValueError, match="timezone-aware"):
        click(1, after=60, clicked_at=datetime(2026, 3, 2, 9, 15))
    with pytest.raises(ValueError):
        click(1, after=60, link_role="banner")
    assert judge() == {}


def test_times_in_other_zones_are_compared_as_instants():
    moscow = timezone(timedelta(hours=3))
    judged = judge(click(1, after=0, clicked_at=(SENT + timedelta(seconds=5)).astimezone(moscow)))
    assert judged[1].reasons == (Reason.TOO_SOON,)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(LINKS)),
            st.floats(min_value=-10, max_value=20_000, allow_nan=False),
            st.sampled_from(["95.165.12.34", "40.94.1.1", "178.176.74.20", "2a02:6b8:a::1"]),
            st.sampled_from([YANDEX_BROWSER, IPHONE, CHROME_WIN, "curl/8.4.0"]),
        ),
        max_size=25,
    ),
    st.randoms(use_true_random=False),
)
def test_every_click_gets_one_verdict_whatever_order_they_arrive_in(rows, shuffler: random.Random):
    clicks = [
        click(i, link, after=after, ip=ip, user_agent=ua)
        for i, (link, after, ip, ua) in enumerate(rows)
    ]
    judged = judge(*clicks, letter_link_count=3)
    shuffler.shuffle(clicks)
    assert judge(*clicks, letter_link_count=3) == judged
    assert set(judged) == {c.id for c in clicks}
    for judgement in judged.values():
        assert judgement.reasons
        is_person = judgement.reasons in {(Reason.PERSON,), (Reason.OTHER_BROWSER_AND_NETWORK,)}
        assert (judgement.verdict != Verdict.BOT) == is_person


def test_the_shipped_scanner_list_loads_with_the_microsoft_ranges():
    scanners = ScannerList.load(DEFAULT_SCANNERS)
    assert {"40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17"} <= {
        str(network) for network in scanners.networks
    }
    assert scanners.matches_user_agent("PYTHON-REQUESTS/2.0")
    assert not scanners.matches_user_agent(YANDEX_BROWSER)
    assert not scanners.matches_user_agent(IPHONE)
    assert not scanners.matches_user_agent(CHROME_WIN)


GOOD_ROW = "network,40.92.0.0/15,Microsoft 365 endpoints,2026-11-29\n"
HEADER = "kind,value,source,checked_on\n"


@pytest.mark.parametrize(
    "bad_line, complaint",
    [
        ("network,40.92.0.1/15,Microsoft,2026-11-29", "host bits"),
        ("network,40.92.0.0/33,Microsoft,2026-11-29", "40.92.0.0/33"),
        ("network,not-a-network,Microsoft,2026-11-29", "not-a-network"),
        ("user_agent,,somebody,2026-11-29", "every client"),
        ("robot,curl,somebody,2026-11-29", "kind must be"),
        ("network,10.0.0.0/8,,2026-11-29", "source"),
        ("network,10.0.0.0/8,somebody,29.11.2026", "checked_on"),
        ("network,10.0.0.0/8,somebody", "4 fields"),
    ],
)
def test_a_bad_line_in_the_scanner_file_is_named(tmp_path, bad_line, complaint):
    path = tmp_path / "scanners.csv"
    path.write_text(HEADER + GOOD_ROW + "\n" + bad_line + "\n" + GOOD_ROW, encoding="utf-8")
    with pytest.raises(ValueError, match=complaint) as refused:
        ScannerList.load(path)
    assert f"{path}:4:" in str(refused.value)


def test_a_scanner_file_without_its_header_is_refused():
    with pytest.raises(ValueError, match=":1: the header must be kind,value,source,checked_on"):
        ScannerList.parse(io.StringIO(GOOD_ROW))
