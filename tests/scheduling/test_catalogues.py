"""The Spanish and French catalogues translate every string marked for translation, and
the desk's pages use them (DESIGN §10). `make translations` extracts; `make` compiles."""

import pathlib
import re
import shutil
import subprocess

import pytest
from django.utils import translation

ROOT = pathlib.Path(__file__).resolve().parents[2]
CATALOGUES = {language: ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
              for language in ("es", "fr")}  # fmt: skip


def statistics(path: pathlib.Path) -> str:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("gettext's msgfmt is not installed (apt-get install gettext)")
    done = subprocess.run(
        [msgfmt, "--check", "--statistics", "--output-file=/dev/null", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_every_string_is_translated(language):
    said = statistics(CATALOGUES[language])

    assert re.match(r"\d+ translated messages?\.$", said.strip()), said


@pytest.mark.parametrize(
    ("language", "english", "translated"),
    [
        ("es", "Book", "Agendar"),
        ("fr", "Book", "Réserver"),
        ("es", "Sign in", "Iniciar sesión"),
        ("fr", "Sign in", "Se connecter"),
    ],
)
def test_the_catalogues_are_compiled_and_used(language, english, translated):
    with translation.override(language):
        assert translation.gettext(english) == translated
