"""The console in headless Chromium against a real server: officials, firms, security."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from service.sectors import SECTORS
from tests.conftest import ADMIN_KEY
from tests.console.conftest import bulk, official_key, screenshot

pytestmark = pytest.mark.slow

KR_CATHODE = {
    "name": "한빛 캐소드 머티리얼즈",
    "country": "KR",
    "org_type": "company",
    "sectors": ["clean_energy"],
    "capabilities": "We produce high-nickel NCM cathode material for electric vehicle cells. "
    "We license electrode coating and calendering know-how to cell makers.",
    "needs": "We seek a cell assembly partner in India to buy cathode material at scale.",
    "partnership_types": ["joint_venture", "technology_licensing"],
    "city": "Pohang",
}
KR_SHIPYARD = {
    "name": "Ulsan Green Ships",
    "country": "KR",
    "org_type": "company",
    "sectors": ["shipbuilding"],
    "capabilities": "We design and build ammonia-fuelled container ships and retrofit "
    "dual-fuel marine engines at our Ulsan yard.",
    "needs": "We need an Indian shipyard partner for hull block fabrication.",
    "partnership_types": ["joint_venture", "manufacturing"],
    "city": "Ulsan",
}
IN_CELLS = {
    "name": "नवयुग सेल टेक्नोलॉजीज",
    "country": "IN",
    "org_type": "startup",
    "sectors": ["clean_energy"],
    "capabilities": "We assemble LFP cells in Gujarat and sell battery packs to bus makers.",
    "needs": "We seek high-nickel cathode material and electrode coating know-how.",
    "partnership_types": ["joint_venture"],
    "city": "Ahmedabad",
}
HOSTILE = {
    "name": "Hostile <b>Bold</b> Labs",
    "country": "IN",
    "org_type": "company",
    "sectors": ["shipbuilding"],
    "capabilities": "<script>window.pwned = 1</script> We fabricate hull blocks and "
    "steel sections for merchant ships in Kochi.",
    "needs": "We need ammonia-fuelled ship designs and a dual-fuel engine licence. "
    '<img src=x onerror="window.pwned=2">',
    "partnership_types": ["manufacturing"],
    "city": "Kochi",
}


def wait(driver, seconds: float = 60) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def sign_in(driver, srv, key: str) -> None:
    driver.get(srv.url + "/console/signin")
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait(driver).until(lambda d: "/console/signin" not in d.current_url)


@pytest.fixture(scope="module")
def registry(console_server):
    ids = bulk(console_server, [KR_CATHODE, KR_SHIPYARD, IN_CELLS, HOSTILE])
    return dict(zip(("kr_cathode", "kr_shipyard", "in_cells", "hostile"), ids, strict=True))


def test_official_searches_reads_matches_and_downloads_an_export(
    console_server, registry, browser_factory
):
    srv = console_server
    driver = browser_factory("desktop")
    sign_in(driver, srv, official_key(srv))
    assert driver.current_url.endswith("/console/registry")

    driver.find_element(By.ID, "q").send_keys("नवयुग")
    Select(driver.find_element(By.ID, "country")).select_by_value("IN")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait(driver).until(ec.url_contains("q="))
    rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == [IN_CELLS["name"]]
    screenshot(driver, "registry-desktop")

    rows[0].find_element(By.TAG_NAME, "a").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "matches")))
    matches = driver.find_elements(By.CSS_SELECTOR, "ol.matches > li")
    assert matches, "an official sees the profile's matches"
    first = matches[0]
    assert KR_CATHODE["name"] in first.find_element(By.TAG_NAME, "h3").text
    needs = first.find_elements(By.CSS_SELECTOR, "mark.need")
    offers = first.find_elements(By.CSS_SELECTOR, "mark.offer")
    assert needs and offers
    assert "cathode" in needs[0].text.lower() or "cathode" in offers[0].text.lower()
    comps = [dt.text for dt in first.find_elements(By.CSS_SELECTOR, "dl.components dt")]
    assert "complementarity" in comps and "sector fit" in comps
    screenshot(driver, "profile-desktop")

    driver.get(srv.url + "/console/exports")
    Select(driver.find_element(By.ID, "format")).select_by_value("csv")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait(driver).until(ec.url_matches(r"/console/exports/ex_[0-9a-f]{16}$"))
    export_id = driver.current_url.rsplit("/", 1)[1]
    # htmx polls the status box until the download link appears (no reload of the page)
    link = wait(driver, 120).until(ec.element_to_be_clickable((By.ID, "download")))
    screenshot(driver, "export-desktop")
    link.click()
    target = driver.downloads / f"pairings-{export_id}.csv"
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.exists(), list(driver.downloads.iterdir())
    text = target.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith('"in_id","in_name"')
    assert IN_CELLS["name"] in text


def test_firm_registers_signs_in_edits_and_its_matches_change(
    console_server, registry, browser_factory
):
    srv = console_server
    driver = browser_factory("phone")
    driver.get(srv.url + "/console/register")
    driver.find_element(By.ID, "f-name").send_keys("Kochi Marine Works")
    Select(driver.find_element(By.ID, "f-country")).select_by_value("IN")
    driver.find_element(By.CSS_SELECTOR, "input[name=sectors][value=shipbuilding]").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=sectors][value=clean_energy]").click()
    driver.find_element(By.ID, "f-capabilities").send_keys("Too short.")  # < 20 characters
    driver.find_element(By.ID, "f-needs").send_keys(
        "We need ammonia-fuelled container ship designs and dual-fuel marine engines."
    )
    screenshot(driver, "register-phone")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    error = wait(driver).until(ec.presence_of_element_located((By.ID, "e-capabilities")))
    assert "at least 20 characters" in error.text
    # what was typed is kept, the other fields are not in error
    assert driver.find_element(By.ID, "f-name").get_attribute("value") == "Kochi Marine Works"
    assert not driver.find_elements(By.ID, "e-needs")

    caps = driver.find_element(By.ID, "f-capabilities")
    caps.clear()
    caps.send_keys("We fabricate steel hull blocks and outfit merchant ships at our Kochi yard.")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    key_box = wait(driver, 120).until(ec.presence_of_element_located((By.ID, "owner-key")))
    key = key_box.get_attribute("value")
    assert key.startswith("mm_")
    assert "only this once" in driver.find_element(By.CSS_SELECTOR, ".warning").text
    screenshot(driver, "registered-phone")

    sign_in(driver, srv, key)
    assert re.search(r"/console/profiles/pr_[0-9a-f]{16}$", driver.current_url)
    my_url = driver.current_url

    def top_match() -> str:
        return driver.find_element(By.CSS_SELECTOR, "ol.matches > li h3 a").text

    assert top_match() == KR_SHIPYARD["name"]
    screenshot(driver, "my-profile-phone")

    driver.find_element(By.LINK_TEXT, "Edit this profile").click()
    needs = wait(driver).until(ec.presence_of_element_located((By.ID, "f-needs")))
    needs.clear()
    needs.send_keys("We seek high-nickel cathode material and electrode coating know-how.")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait(driver, 120).until(ec.url_to_be(my_url))
    assert "cathode material" in driver.find_element(By.CSS_SELECTOR, ".profile").text
    assert top_match() == KR_CATHODE["name"]

    # the firm tells the cathode maker it is interested; the pair's state shows in the list
    form = driver.find_element(By.CSS_SELECTOR, "ol.matches > li form.interest")
    form.find_element(By.TAG_NAME, "textarea").send_keys("Let us talk about cathodes.")
    form.find_element(By.TAG_NAME, "button").click()
    state = wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "ol.matches > li .state"))
    )
    assert state.text == "sent"


def test_pages_need_a_session_and_forms_a_csrf_token(console_server, registry, browser_factory):
    srv = console_server
    driver = browser_factory("desktop")
    driver.get(srv.url + "/console/registry")
    assert driver.current_url.endswith("/console/signin")
    screenshot(driver, "signin-desktop")

    with httpx.Client(base_url=srv.url) as c:
        page = c.get("/console/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain http here; Secure over https
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        # sign-in without the token: refused
        r = c.post("/console/signin", data={"api_key": ADMIN_KEY})
        assert r.status_code == 403
        r = c.post("/console/signin", data={"api_key": ADMIN_KEY, "csrf": csrf})
        assert r.status_code == 303
        # signed in (new session, new token): a form posted without its token is refused
        r = c.post("/console/exports", data={"format": "csv"})
        assert r.status_code == 403 and "form has expired" in r.text
        r = c.post("/console/exports", data={"format": "csv", "csrf": csrf})  # the old one
        assert r.status_code == 403
        # a forged cookie is no session
        c.cookies.set("mm_console", "eyJjIjoieCIsInIiOiJhZG1pbiJ9.forged", path="/console")
        assert c.get("/console/registry").headers["location"] == "/console/signin"


def test_a_firm_cannot_edit_another_firms_profile(console_server, registry, browser_factory):
    srv = console_server
    r = httpx.post(
        srv.url + "/v1/profiles",
        json={**IN_CELLS, "name": "Pune Cell Works", "city": "Pune"},
        timeout=120,
    )
    assert r.status_code == 201, r.text
    driver = browser_factory("desktop")
    sign_in(driver, srv, r.json()["api_key"])
    driver.get(srv.url + f"/console/profiles/{registry['in_cells']}/edit")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert not driver.find_elements(By.ID, "f-needs")
    # and another firm's profile page shows no matches nor an edit link
    driver.get(srv.url + f"/console/profiles/{registry['in_cells']}")
    assert not driver.find_elements(By.ID, "matches")
    assert not driver.find_elements(By.LINK_TEXT, "Edit this profile")


def test_hostile_text_is_shown_as_text(console_server, registry, browser_factory):
    srv = console_server
    driver = browser_factory("desktop")
    sign_in(driver, srv, ADMIN_KEY)
    driver.get(srv.url + f"/console/profiles/{registry['hostile']}")
    body = driver.find_element(By.CSS_SELECTOR, ".profile")
    assert "<script>window.pwned = 1</script>" in body.text
    assert '<img src=x onerror="window.pwned=2">' in body.text
    assert driver.find_element(By.TAG_NAME, "h1").text == HOSTILE["name"]
    assert not driver.find_elements(By.CSS_SELECTOR, "main script, main img, h1 b")
    assert driver.execute_script("return window.pwned === undefined")


def test_pairings_page_draws_its_pictures(console_server, registry, browser_factory):
    srv = console_server
    for width in ("desktop", "phone"):
        driver = browser_factory(width)
        sign_in(driver, srv, ADMIN_KEY)
        driver.get(srv.url + "/console/pairings?per_org=2")
        # the table and pictures come from snapshots: htmx fills them in if not ready yet
        wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3)
        cells = driver.find_elements(By.CSS_SELECTOR, "rect.heat")
        assert len(cells) == len(SECTORS) ** 2
        rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
        assert rows
        # no horizontal scrolling at this width
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
        screenshot(driver, f"pairings-{width}")
        driver.get(srv.url + f"/console/profiles/{registry['in_cells']}")
        screenshot(driver, f"profile-{width}" if width == "phone" else "profile-admin-desktop")
