"""Every word a template shows is marked for translation (DESIGN §10).

A template's text outside template tags, and the attributes people read (title,
placeholder, alt, aria-label…), may hold only punctuation, digits and entities once the
translatable parts ({% translate %}, {% blocktranslate %}) and the variables are taken out.
"""

import html.parser
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    path
    for folder in ("templates", "scheduling", "vendors")
    for path in (ROOT / folder).rglob("*.html")
)

BLOCKS = re.compile(
    r"{%\s*(blocktranslate|blocktrans|comment)\b.*?%}.*?{%\s*end\1\s*%}"
    r"|<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|{#.*?#}",
    re.DOTALL,
)
TAGS = re.compile(r"{%.*?%}|{{.*?}}", re.DOTALL)
READ_ATTRIBUTES = {
    "title", "placeholder", "alt", "label",
    "aria-label", "aria-description", "aria-roledescription", "aria-valuetext",
}  # fmt: skip
LETTER = re.compile(r"[^\W\d_]")
# Not words: symbols, keyboard keys and units shown as they are in every language.
ALLOWED = re.compile(r"^(?:[\W\d_]|&[a-z]+;|&#\d+;)*$")


class TextFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in READ_ATTRIBUTES:
                self.check(f"{tag}[{name}]", value)

    def handle_data(self, data: str) -> None:
        self.check("text", data)

    def check(self, where: str, text: str) -> None:
        text = text.replace("\x00", "").strip()
        if text and LETTER.search(text) and not ALLOWED.match(text):
            self.found.append(f"{where}: {text[:80]!r}")


def untranslated(source: str) -> list[str]:
    # The variables and tags are replaced by a NUL so that attribute values stay whole.
    without = TAGS.sub("\x00", BLOCKS.sub("\x00", source))
    finder = TextFinder()
    finder.feed(without)
    finder.close()
    return finder.found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_template_string_is_marked_for_translation(template: pathlib.Path) -> None:
    assert untranslated(template.read_text()) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("<p>Book</p>", ["text: 'Book'"]),
        ('<input placeholder="Name or phone">', ["input[placeholder]: 'Name or phone'"]),
        ('<button aria-label="Close">×</button>', ["button[aria-label]: 'Close'"]),
        ("<p>{% translate 'Book' %}</p>", []),
        ("<p>{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}</p>", []),
        ("<input placeholder=\"{% translate 'Name' %}\">", []),
        ("<p>{{ patient.display_name }} · 12:30</p>", []),
        ("<script>const word = 'Book';</script>", []),
        ("{% comment %}Notes for developers{% endcomment %}", []),
        ('<a href="/desk/?x=1" class="Book">&rarr;</a>', []),
    ],
)
def test_the_check_finds_unmarked_text(source: str, found: list[str]) -> None:
    assert untranslated(source) == found
