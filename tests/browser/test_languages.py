"""The desk's main pages in English, Spanish and French, in real Chromium: the clinic's
language, no accessibility violation found by axe-core (vendored under static/, WCAG 2 A
and AA rules, contrast included), and a screenshot of each in test-artifacts/."""

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment
from tests.browser.conftest import ARTIFACTS
from tests.worlds import MONDAY

pytestmark = pytest.mark.django_db(transaction=True)

AXE = "/static/vendor/axe-core/axe.min.js"
# The desk's words for "Book" (the navigation) and a day shown in the locale's own format.
WORDS = {
    "en": {"book": "Book", "monday": "Monday"},
    "es": {"book": "Agendar", "monday": "lunes"},
    "fr": {"book": "Réserver", "monday": "lundi"},
}


def pages(live_server, world, appointment: Appointment) -> dict[str, str]:
    where = f"location={world.location.pk}"
    return {
        "book": (
            f"/desk/?{where}&who=p:{world.practitioner.pk}"
            f"&appointment_type={world.appointment_type.pk}&date={MONDAY.isoformat()}"
        ),
        "day": f"/desk/day/?{where}&date={MONDAY.isoformat()}",
        "week": f"/desk/week/?{where}&practitioner={world.practitioner.pk}"
        f"&date={MONDAY.isoformat()}",
        "appointment": f"/desk/appointments/{appointment.pk}/",
    }


def axe_violations(page) -> list[str]:
    page.add_script_tag(url=AXE)
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return result.violations.map(
                (v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
            );
        }"""
    )
    return result


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_the_main_pages_in_each_language(signed_in, live_server, world, language):
    world.clinic.language = language
    world.clinic.save(update_fields=["language"])
    appointment = world.book("10:00")
    page = signed_in

    for name, path in pages(live_server, world, appointment).items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        nav = page.get_by_role("navigation").first
        expect(nav.get_by_role("link", name=WORDS[language]["book"], exact=True)).to_be_visible()
        if name in {"day", "appointment"}:
            expect(page.locator("main")).to_contain_text(
                WORDS[language]["monday"], ignore_case=True
            )
        assert axe_violations(page) == [], f"{name} page in {language}"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{language}.png"), full_page=True)
