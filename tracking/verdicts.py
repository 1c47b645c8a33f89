"""Telling people from mail scanners, previewers and bots among one letter's clicks. Pure.

Mail security gateways (Microsoft Safe Links, Mimecast, Proofpoint, Barracuda) and link
previewers open the links of a letter before, or instead of, its reader. Only a person's
click may become a manager's task, so every click of one letter is judged together:

- on its own: a HEAD or prefetch request, a scanner, previewer or library user agent (or
  none), an address in a scanner's published network (`data/scanners.csv`), a click
  sooner after sending than anyone could have read the letter, a click on the honeypot
  link that no person sees: each makes the click a bot's;
- together: most of the letter's links opened within `burst_seconds` (a person reads one
  link, a scanner walks them all), and clicks by the client that opened the honeypot
  within that window, are bots' too;
- what is left is a person. The first person is the reader; a later click from another
  browser *and* another network (/24 for IPv4, /48 for IPv6) is the letter forwarded to
  someone else. The reader's own second device on a known network stays the reader.

Verdicts carry short stable reason codes; `REASON_TEXTS` says them in Russian for the UI.
"""

from __future__ import annotations

import csv
import enum
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path

DEFAULT_SCANNERS = Path(__file__).resolve().parent / "data" / "scanners.csv"
SCANNERS_HEADER = ["kind", "value", "source", "checked_on"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class Verdict(enum.StrEnum):
    """Who clicked: the reader, a machine, or someone the letter was forwarded to."""

    HUMAN = "human"
    BOT = "bot"
    FORWARDED = "forwarded"


class LinkRole(enum.StrEnum):
    """What a link in a letter is for; the honeypot is invisible to people."""

    CATALOGUE = "catalogue"
    OFFER = "offer"
    OTHER = "other"
    HONEYPOT = "honeypot"


class Reason(enum.StrEnum):
    """Why a click got its verdict: stable codes, stored and shown; in reporting order."""

    HEAD_REQUEST = "head_request"
    UNUSUAL_METHOD = "unusual_method"
    PREFETCH = "prefetch"
    NO_USER_AGENT = "no_user_agent"
    SCANNER_USER_AGENT = "scanner_user_agent"
    SCANNER_NETWORK = "scanner_network"
    TOO_SOON = "too_soon"
    HONEYPOT = "honeypot"
    NEAR_HONEYPOT = "near_honeypot"
    BURST = "burst"
    OTHER_BROWSER_AND_NETWORK = "other_browser_and_network"
    PERSON = "person"
    NO_LETTER = "no_letter"  # its letter was deleted: evidence kept, nobody to call


REASON_TEXTS: dict[Reason, str] = {
    Reason.HEAD_REQUEST: "Запрос HEAD: так ссылку проверяет программа, а не человек",
    Reason.UNUSUAL_METHOD: "Необычный HTTP-метод: браузер открывает ссылку запросом GET",
    Reason.PREFETCH: "Предзагрузка: ссылку открыли заранее, без клика",
    Reason.NO_USER_AGENT: "Клиент не назвал себя (нет User-Agent): так ходят программы",
    Reason.SCANNER_USER_AGENT: "Почтовый сканер, превью ссылок или HTTP-библиотека",
    Reason.SCANNER_NETWORK: "Адрес из сети почтового сканера (Microsoft, Mimecast и др.)",
    Reason.TOO_SOON: "Переход через считанные секунды после отправки: письмо ещё не читали",
    Reason.HONEYPOT: "Переход по невидимой ссылке-ловушке: её видит только программа",
    Reason.NEAR_HONEYPOT: "Тот же клиент рядом по времени открыл ссылку-ловушку",
    Reason.BURST: "Почти все ссылки письма открыты за несколько секунд: так проверяет сканер",
    Reason.OTHER_BROWSER_AND_NETWORK: "Другой браузер и другая сеть: письмо, похоже, переслали",
    Reason.PERSON: "Похоже на человека",
    Reason.NO_LETTER: "Письмо удалено вместе с контактом: звонить некому",
}

_REASON_ORDER = {reason: index for index, reason in enumerate(Reason)}
_PREFETCH_WORDS = ("prefetch", "prerender", "preview")  # Sec-Purpose, Purpose, X-Purpose, X-Moz


@dataclass(frozen=True)
class ClickFacts:
    """One recorded request for a tracked link, as plain data (`purpose`: the
    Sec-Purpose / Purpose / X-Purpose / X-Moz header, if any)."""

    id: int
    letter_id: int
    link_id: int
    link_role: str
    method: str
    ip: str
    user_agent: str
    clicked_at: datetime
    sent_at: datetime | None
    purpose: str = ""

    def __post_init__(self) -> None:
        LinkRole(self.link_role)  # an unknown role fails here, not as a silent "human"
        for name in ("clicked_at", "sent_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


@dataclass(frozen=True)
class VerdictSettings:
    """How fast is too fast: the shortest plausible read and the scanners' burst window."""

    min_read_seconds: float = 20.0
    burst_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.min_read_seconds < 0 or self.burst_seconds < 0:
            raise ValueError("min_read_seconds and burst_seconds must not be negative")


@dataclass(frozen=True)
class Judgement:
    """A click's verdict and the reasons for it, in `Reason` order."""

    verdict: Verdict
    reasons: tuple[Reason, ...]

    @property
    def texts(self) -> tuple[str, ...]:
        """The reasons in Russian, for a manager's screen."""
        return tuple(REASON_TEXTS[reason] for reason in self.reasons)


@dataclass(frozen=True)
class ScannerList:
    """Networks and user-agent substrings of known scanners, as their vendors publish them."""

    networks: tuple[IPNetwork, ...] = ()
    user_agents: tuple[str, ...] = ()  # lower-case substrings

    @classmethod
    def load(cls, path: str | os.PathLike[str] = DEFAULT_SCANNERS) -> ScannerList:
        """The list in a CSV file (kind,value,source,checked_on); a bad line is named."""
        with open(path, encoding="utf-8", newline="") as lines:
            return cls.parse(lines, name=str(path))

    @classmethod
    def parse(cls, lines: Iterable[str], *, name: str = "scanners.csv") -> ScannerList:
        """The list in CSV lines; ValueError names the file and line of the first bad row."""
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None or [field.strip() for field in header] != SCANNERS_HEADER:
            raise ValueError(f"{name}:1: the header must be {','.join(SCANNERS_HEADER)}")
        networks: list[IPNetwork] = []
        user_agents: list[str] = []
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            try:
                value = _scanner_row(row)
            except ValueError as exc:
                raise ValueError(f"{name}:{reader.line_num}: {exc}: {row!r}") from None
            if isinstance(value, str):
                user_agents.append(value)
            else:
                networks.append(value)
        return cls(tuple(networks), tuple(user_agents))

    def has_address(self, address: IPAddress | None) -> bool:
        """Whether the address is in one of the scanners' networks."""
        return address is not None and any(address in network for network in self.networks)

    def matches_user_agent(self, user_agent: str) -> bool:
        """Whether the user agent names a scanner, previewer or HTTP library."""
        folded = user_agent.casefold()
        return any(needle in folded for needle in self.user_agents)


def judge_letter_clicks(
    clicks: Sequence[ClickFacts],
    *,
    settings: VerdictSettings,
    scanners: ScannerList,
    letter_link_count: int | None = None,
) -> dict[int, Judgement]:
    """Each click of one letter judged with the others in view, keyed by click id.

    `letter_link_count` is the number of links in the letter besides the honeypot; with
    it, a two-link letter opened whole in a burst is caught too (without it: 3 links).
    """
    if len({click.letter_id for click in clicks}) > 1:
        raise ValueError("judge_letter_clicks takes the clicks of one letter")
    if len({click.id for click in clicks}) != len(clicks):
        raise ValueError("click ids must be unique")
    ordered = sorted(clicks, key=lambda click: (click.clicked_at, click.id))
    window = timedelta(seconds=settings.burst_seconds)
    reasons = {click.id: _own_reasons(click, settings, scanners) for click in ordered}
    for click_id in _near_honeypot(ordered, window):
        reasons[click_id].add(Reason.NEAR_HONEYPOT)
    for click_id in _bursts(ordered, window, _burst_size(letter_link_count)):
        reasons[click_id].add(Reason.BURST)
    judged = {
        click_id: Judgement(Verdict.BOT, tuple(sorted(found, key=_REASON_ORDER.__getitem__)))
        for click_id, found in reasons.items()
        if found
    }
    judged.update(_people([click for click in ordered if click.id not in judged]))
    return judged


def _own_reasons(
    click: ClickFacts, settings: VerdictSettings, scanners: ScannerList
) -> set[Reason]:
    """What gives a click away as a machine's on its own, without the letter's other clicks."""
    found: set[Reason] = set()
    method = click.method.strip().upper()
    if method == "HEAD":
        found.add(Reason.HEAD_REQUEST)
    elif method != "GET":
        found.add(Reason.UNUSUAL_METHOD)
    if any(word in click.purpose.casefold() for word in _PREFETCH_WORDS):
        found.add(Reason.PREFETCH)
    if not click.user_agent.strip():
        found.add(Reason.NO_USER_AGENT)
    elif scanners.matches_user_agent(click.user_agent):
        found.add(Reason.SCANNER_USER_AGENT)
    if scanners.has_address(_address(click.ip)):
        found.add(Reason.SCANNER_NETWORK)
    if click.sent_at is not None:
        # Negative too: a click stamped before the letter left is no reader's.
        if (click.clicked_at - click.sent_at).total_seconds() < settings.min_read_seconds:
            found.add(Reason.TOO_SOON)
    if click.link_role == LinkRole.HONEYPOT:
        found.add(Reason.HONEYPOT)
    return found


def _near_honeypot(ordered: Sequence[ClickFacts], window: timedelta) -> set[int]:
    """Clicks by a client (same user agent, same /24 or /48) that hit the honeypot nearby.

    The network, not the exact address: a scanner spreads one letter over a pool of
    addresses, and no person shares a browser and a subnet with it within seconds.
    """
    by_client: defaultdict[tuple[str, object], list[ClickFacts]] = defaultdict(list)
    for click in ordered:
        by_client[(click.user_agent, _network(click.ip) or click.ip)].append(click)
    found: set[int] = set()
    for same_client in by_client.values():
        traps = [c.clicked_at for c in same_client if c.link_role == LinkRole.HONEYPOT]
        for click in same_client:
            if any(abs(click.clicked_at - trap) <= window for trap in traps):
                found.add(click.id)
    return found


def _burst_size(letter_link_count: int | None) -> int:
    """Distinct links opened within the window that make a burst: 3, or 80% of a short letter."""
    if letter_link_count is None:
        return 3
    return max(2, min(3, math.ceil(0.8 * letter_link_count)))


def _bursts(ordered: Sequence[ClickFacts], window: timedelta, needed: int) -> set[int]:
    """Clicks inside any window of `window` length that opens `needed` distinct real links."""
    found: set[int] = set()
    links: Counter[int] = Counter()  # real (non-honeypot) links within [start, end)
    end = marked = 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end].clicked_at - first.clicked_at <= window:
            if ordered[end].link_role != LinkRole.HONEYPOT:
                links[ordered[end].link_id] += 1
            end += 1
        if len(links) >= needed:
            found.update(click.id for click in ordered[max(start, marked) : end])
            marked = end
        if first.link_role != LinkRole.HONEYPOT:
            links[first.link_id] -= 1
            if not links[first.link_id]:
                del links[first.link_id]
    return found


def _people(ordered: Sequence[ClickFacts]) -> dict[int, Judgement]:
    """The reader's clicks, and those of someone else the letter reached (forwarded)."""
    browsers: set[str] = set()
    networks: set[IPNetwork] = set()
    judged: dict[int, Judgement] = {}
    for click in ordered:
        browser, network = _browser(click.user_agent), _network(click.ip)
        is_stranger = (
            bool(browsers)
            and browser not in browsers
            and bool(networks)
            and network is not None
            and network not in networks
        )
        if is_stranger:
            judged[click.id] = Judgement(Verdict.FORWARDED, (Reason.OTHER_BROWSER_AND_NETWORK,))
            continue
        judged[click.id] = Judgement(Verdict.HUMAN, (Reason.PERSON,))
        browsers.add(browser)
        if network is not None:
            networks.add(network)
    return judged


def _browser(user_agent: str) -> str:
    """A user agent without its version numbers: the same browser after an auto-update."""
    return re.sub(r"\d+(?:[._]\d+)*", "#", user_agent.casefold()).strip()


def _address(ip: str) -> IPAddress | None:
    """The client address, IPv4-mapped IPv6 unwrapped; None when it is not an address."""
    try:
        address = ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _network(ip: str) -> IPNetwork | None:
    """The /24 (IPv4) or /48 (IPv6) a client sits in: one office, one home, one provider."""
    address = _address(ip)
    if address is None:
        return None
    prefix = 24 if address.version == 4 else 48
    return ip_network(f"{address}/{prefix}", strict=False)


def _scanner_row(row: list[str]) -> IPNetwork | str:
    """One line of the scanners file: a network, or a lower-case user-agent substring."""
    if len(row) != len(SCANNERS_HEADER):
        raise ValueError(f"expected {len(SCANNERS_HEADER)} fields, got {len(row)}")
    kind, value, source, checked_on = (field.strip() for field in row)
    if not source:
        raise ValueError("the source is empty: say where the entry was published")
    try:
        date.fromisoformat(checked_on)
    except ValueError:
        raise ValueError(f"checked_on must be a date like 2026-11-29, got {checked_on!r}") from None
    if kind == "network":
        return ip_network(value)  # strict: host bits set is a typo, not a network
    if kind == "user_agent":
        if not value:
            raise ValueError("an empty user_agent would match every client")
        return value.casefold()
    raise ValueError(f"kind must be network or user_agent, got {kind!r}")
