"""A campaign's links: checked destinations, the CLI, and letters that name them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.letters.links import campaign_link_ids
from tracking.destinations import DestinationError, check_destination
from tracking.links import find_campaign
from tracking.models import CampaignLink


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "https://good.example@evil.example/",
        "https://good.example\\@evil.example/",
        "https://good.example/\x00x",
        "https://good.example/a b",
        "https://good.example/\u202ecod.exe",
        "ftp://files.example/catalogue.pdf",
        "https:///nohost",
        "",
    ],
)
def test_it_refuses_a_destination_that_is_not_a_plain_web_address(url):
    with pytest.raises(DestinationError):
        check_destination(url)


def test_it_keeps_links_inside_the_allowed_domains():
    assert check_destination("https://shop.gifts.example/x?a=1", ["gifts.example"])
    with pytest.raises(DestinationError, match="не в списке"):
        check_destination("https://gifts.example.evil.test/", ["gifts.example"])


def test_every_default_campaign_gets_a_catalogue_and_an_offer_link(session):
    links = campaign_link_ids(session, [find_campaign(session, "mar8").id])
    assert set(next(iter(links.values()))) == {"каталог", "скидка"}
    roles = {link.label: link.role for link in session.scalars(select(CampaignLink))}
    assert roles == {"каталог": "catalogue", "скидка": "offer"}


def test_the_cli_adds_sets_lists_and_removes_a_link(runner, session):
    add = ["mailer", "campaigns", "links", "add", "mar8", "--label", "тюльпаны"]
    result = runner.invoke(args=[*add, "--role", "other", "--url", "https://gifts.example/t"])
    assert result.exit_code == 0, result.output
    new_url = ["--url", "https://gifts.example/t2"]
    result = runner.invoke(
        args=["mailer", "campaigns", "links", "set", "mar8", "--label", "тюльпаны", *new_url]
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["mailer", "campaigns", "links", "list", "mar8"]).output
    assert "тюльпаны\tother\thttps://gifts.example/t2" in listed
    result = runner.invoke(
        args=["mailer", "campaigns", "links", "remove", "mar8", "--label", "тюльпаны"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "тюльпаны"
        not in runner.invoke(args=["mailer", "campaigns", "links", "list", "mar8"]).output
    )


def test_a_refused_destination_exits_non_zero_with_one_line_and_changes_nothing(runner, session):
    before = session.scalars(select(CampaignLink.url).order_by(CampaignLink.id)).all()
    refused = {
        ("add", "mar8", "--label", "x", "--role", "offer", "--url", "javascript:alert(1)"):
            "Error: разрешены только http и https, а не javascript:",
        ("set", "mar8", "--label", "скидка", "--url", "https://a@evil.example/"):
            "Error: в адресе есть имя пользователя (user@host): так подделывают сайт",
        ("set", "nosuchtag", "--label", "скидка", "--url", "https://gifts.example/"):
            "Error: no campaign for the tag 'nosuchtag' (see `mailer campaigns list`)",
    }  # fmt: skip
    for args, line in refused.items():
        result = runner.invoke(args=["mailer", "campaigns", "links", *args])
        assert result.exit_code == 1, args
        assert result.output.strip().splitlines() == [line]
    bad_role = ["add", "mar8", "--label", "y", "--role", "hot", "--url", "https://gifts.example/"]
    assert runner.invoke(args=["mailer", "campaigns", "links", *bad_role]).exit_code == 2
    session.expire_all()
    assert session.scalars(select(CampaignLink.url).order_by(CampaignLink.id)).all() == before
