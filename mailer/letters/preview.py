"""A finished letter as a person checks it: headers decoded, the text part as the reader
sees it, and the HTML part's size and links (the bytes themselves are base64). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import cast

from mailer.plurals import plural_en

SHOWN_HEADERS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class HtmlLink:
    """One `<a href>` of the HTML part, with its visible text; hidden ones are the honeypot."""

    url: str
    text: str
    is_hidden: bool


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[HtmlLink] = []
        self._open: tuple[str, bool, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        values = {name: value or "" for name, value in attrs}
        if "href" in values:
            style = values.get("style", "").replace(" ", "").lower()
            hidden = "display:none" in style or values.get("aria-hidden") == "true"
            self._open = (values["href"], hidden, [])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            url, hidden, text = self._open
            self.links.append(HtmlLink(url, " ".join("".join(text).split()), hidden))
            self._open = None


def html_links(html: str) -> list[HtmlLink]:
    """Every link of an HTML part, in order."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return collector.links


def readable_view(raw: bytes) -> str:
    """The letter as text a person reads in a terminal."""
    message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))
    lines = [f"{name}: {message[name]}" for name in SHOWN_HEADERS if message[name] is not None]
    text_part = message.get_body(("plain",))
    if text_part is not None:
        text = str(text_part.get_content()).replace("\r\n", "\n").rstrip("\n")
        lines += ["", "--- text ---", text]
    html_part = message.get_body(("html",))
    if html_part is not None:
        html = str(html_part.get_content())
        links = html_links(html)
        size = plural_en(len(html.encode("utf-8")), "byte")
        lines += ["", f"--- html: {size}, {plural_en(len(links), 'link')} ---"]
        for link in links:
            label = "(hidden honeypot)" if link.is_hidden else f"«{link.text}»"
            lines.append(f"{label} {link.url}")
    return "\n".join(lines) + "\n"
