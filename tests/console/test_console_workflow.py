"""The workflow in the console, in headless Chromium against a real server: firms send, withdraw,
answer interests and report outcomes; officials broker introductions and clear pairs in the
screening queue. Contact details appear only where the API shows them."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from tests.console.conftest import official_key, register, screenshot
from tests.console.test_console_browser import sign_in, wait

pytestmark = pytest.mark.slow

IN_WIND = {
    "name": "Kutch Wind Blades",
    "country": "IN",
    "org_type": "company",
    "sectors": ["clean_energy"],
    "capabilities": "We manufacture glass-fibre rotor blades for onshore wind turbines at our "
    "Bhuj plant.",
    "needs": "We seek a partner that builds steel towers and monopile foundations for offshore "
    "wind farms.",
    "partnership_types": ["joint_venture"],
    "city": "Bhuj",
    "contact_email": "bd@kutch-blades.example",
}
KR_WIND = {
    "name": "군산 해상풍력 구조물",
    "country": "KR",
    "org_type": "company",
    "sectors": ["clean_energy"],
    "capabilities": "We fabricate steel towers, monopiles and jacket foundations for offshore "
    "wind farms at our Gunsan yard.",
    "needs": "We seek a supplier of rotor blades for wind turbines in India.",
    "partnership_types": ["joint_venture", "manufacturing"],
    "city": "Gunsan",
    "contact_email": "global@gunsan-offshore.example",
}
KR_NAVAL = {
    "name": "Geoje Naval Systems",
    "country": "KR",
    "org_type": "company",
    "sectors": ["shipbuilding", "defence"],
    "capabilities": "We design and build guided-missile frigates and corvettes for the navy. "
    "Our fire-control radars track aerial targets and direct naval guns.",
    "needs": "We seek a partner for hull block fabrication and outfitting of large vessels.",
    "partnership_types": ["joint_venture"],
    "city": "Geoje",
    "contact_email": "export@geoje-naval.example",
}
IN_YARD = {
    "name": "Mangaluru Hull Fabricators",
    "country": "IN",
    "org_type": "company",
    "sectors": ["shipbuilding"],
    "capabilities": "We build bulk carriers and container ships for commercial shipping lines. "
    "Our yard also fabricates hull blocks and repairs merchant ships.",
    "needs": "We seek a partner for the design of large vessels and marine engines.",
    "partnership_types": ["joint_venture"],
    "city": "Mangaluru",
    "contact_email": "yard@mangaluru-hull.example",
}


@pytest.fixture(scope="module")
def firms(console_server):
    results = register(console_server, [IN_WIND, KR_WIND, KR_NAVAL, IN_YARD])
    names = ("in_wind", "kr_wind", "kr_naval", "in_yard")
    return dict(zip(names, results, strict=True))


def match_card(driver, name: str):
    for card in driver.find_elements(By.CSS_SELECTOR, "ol.matches > li"):
        if card.find_element(By.CSS_SELECTOR, "h3 a").text == name:
            return card
    raise AssertionError(f"{name} is not among the matches")


def test_firm_sends_withdraws_and_resends_an_interest_the_other_accepts_contacts_revealed(
    console_server, firms, browser_factory
):
    srv, a, b = console_server, firms["in_wind"], firms["kr_wind"]
    sender = browser_factory("desktop")
    sign_in(sender, srv, a["api_key"])
    assert sender.current_url.endswith(f"/console/profiles/{a['id']}")

    card = match_card(sender, KR_WIND["name"])
    card.find_element(By.TAG_NAME, "textarea").send_keys(
        "Our blades on your towers: shall we talk?"
    )
    card.find_element(By.CSS_SELECTOR, "form.interest button").click()
    wait(sender).until(ec.presence_of_element_located((By.ID, "interests")))
    assert match_card(sender, KR_WIND["name"]).find_element(By.CSS_SELECTOR, ".state").text == (
        "sent"
    )
    # withdrawn: the pair is back to none, and the firm may send again
    sent = sender.find_element(By.CSS_SELECTOR, "ul.interests li")
    assert KR_WIND["name"] in sent.text and "shall we talk" in sent.text
    sent.find_element(By.XPATH, ".//button[normalize-space()='Withdraw']").click()
    wait(sender).until(ec.invisibility_of_element_located((By.ID, "interests")))
    card = match_card(sender, KR_WIND["name"])
    assert not card.find_elements(By.CSS_SELECTOR, ".state")
    card.find_element(By.TAG_NAME, "textarea").send_keys("Blades for your Gunsan projects.")
    card.find_element(By.CSS_SELECTOR, "form.interest button").click()
    wait(sender).until(ec.presence_of_element_located((By.ID, "interests")))

    # the recipient sees the sender's public profile and message, not its contact details
    recipient = browser_factory("phone")
    sign_in(recipient, srv, b["api_key"])
    incoming = recipient.find_element(By.CSS_SELECTOR, "#interests li")
    assert IN_WIND["name"] in incoming.text and "Gunsan projects" in incoming.text
    screenshot(recipient, "interest-received-phone")
    recipient.get(srv.url + f"/console/profiles/{a['id']}")
    assert IN_WIND["contact_email"] not in recipient.page_source
    recipient.back()
    recipient.find_element(By.XPATH, "//form[contains(@action,'/accept')]//button").click()

    link = wait(recipient).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "#introduced a[href*='/introductions/']"))
    )
    link.click()
    wait(recipient).until(ec.url_contains("/console/introductions/ix_"))
    ix_url = recipient.current_url
    assert recipient.find_element(By.ID, "ix-state").text == "active"
    contacts = [e.text for e in recipient.find_elements(By.CSS_SELECTOR, "dl.contact dd")]
    assert IN_WIND["contact_email"] in contacts
    # the recipient reports a meeting; it shows in the history
    Select(recipient.find_element(By.ID, "stage")).select_by_value("meeting_held")
    recipient.find_element(By.ID, "outcome-note").send_keys("Met in Gunsan; drawings next.")
    recipient.find_element(By.CSS_SELECTOR, "#report button").click()
    stage = wait(recipient).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#outcomes td.stage"))
    )
    assert stage.text == "meeting held"
    screenshot(recipient, "introduction-phone")

    # the sender sees the pair introduced, the partner's contact and its report
    sender.get(srv.url + f"/console/profiles/{a['id']}")
    card = match_card(sender, KR_WIND["name"])
    assert card.find_element(By.CSS_SELECTOR, ".state").text == "introduced"
    card.find_element(By.LINK_TEXT, "Open the introduction").click()
    wait(sender).until(ec.url_to_be(ix_url))
    contacts = [e.text for e in sender.find_elements(By.CSS_SELECTOR, "dl.contact dd")]
    assert KR_WIND["contact_email"] in contacts
    assert "Met in Gunsan" in sender.find_element(By.ID, "outcomes").text
    screenshot(sender, "introduction-desktop")


def test_recipient_declines_with_a_reason(console_server, firms, browser_factory):
    srv, yard, wind = console_server, firms["in_yard"], firms["kr_wind"]
    r = httpx.post(
        srv.url + f"/v1/profiles/{yard['id']}/interests",
        json={"to": wind["id"], "message": "Do you need hull steel?"},
        headers={"X-API-Key": yard["api_key"]},
    )
    assert r.status_code == 201, r.text
    interest = r.json()["id"]
    driver = browser_factory("desktop")
    sign_in(driver, srv, wind["api_key"])
    form = driver.find_element(By.XPATH, f"//form[@action='/console/interests/{interest}/decline']")
    Select(form.find_element(By.TAG_NAME, "select")).select_by_value("not_relevant")
    form.find_element(By.NAME, "note").send_keys("We do not buy steel.")
    form.find_element(By.TAG_NAME, "button").click()
    # the answer lands on the page the form is on: wait for that page to be replaced, not
    # for its address (already the current one)
    wait(driver).until(ec.staleness_of(form))
    wait(driver).until(ec.url_contains(f"/console/profiles/{wind['id']}"))
    assert "Do you need hull steel?" not in driver.page_source
    seen = httpx.get(
        srv.url + f"/v1/interests/{interest}", headers={"X-API-Key": yard["api_key"]}
    ).json()
    assert seen["state"] == "declined"
    assert seen["decline_reason"] == "not_relevant" and seen["decline_note"] == (
        "We do not buy steel."
    )


def test_official_brokers_an_introduction_and_clears_it_in_the_screening_queue(
    console_server, firms, browser_factory
):
    srv, yard, naval = console_server, firms["in_yard"], firms["kr_naval"]
    official = browser_factory("desktop")
    sign_in(official, srv, official_key(srv))
    official.get(srv.url + "/console/introductions")
    official.find_element(By.ID, "in_profile").send_keys(yard["id"])
    official.find_element(By.ID, "kr_profile").send_keys(naval["id"])
    official.find_element(By.ID, "broker-message").send_keys("Hull blocks for your frigates.")
    official.find_element(By.CSS_SELECTOR, "#broker button").click()
    wait(official).until(ec.url_contains("/console/introductions/ix_"))
    ix_url = official.current_url
    assert official.find_element(By.ID, "ix-state").text == "proposed"
    assert "pending review" in official.find_element(By.ID, "screening-state").text

    # each side receives it as an interest from the trade desk; both accept
    firm = browser_factory("phone")
    sign_in(firm, srv, yard["api_key"])
    incoming = firm.find_element(By.CSS_SELECTOR, "#interests li")
    assert "proposed by an official" in incoming.text and "frigates" in incoming.text
    incoming.find_element(By.XPATH, ".//button[normalize-space()='Accept']").click()
    wait(firm).until(ec.invisibility_of_element_located((By.ID, "interests")))
    theirs = httpx.get(
        srv.url + f"/v1/profiles/{naval['id']}/interests?direction=incoming&state=pending",
        headers={"X-API-Key": naval["api_key"]},
    ).json()["items"]
    r = httpx.post(
        srv.url + f"/v1/interests/{theirs[0]['id']}/accept",
        headers={"X-API-Key": naval["api_key"]},
    )
    assert r.status_code == 200, r.text

    # introduced, but the pair needs review: no contact details for the firm yet
    firm.get(ix_url)
    assert firm.find_element(By.ID, "ix-state").text == "active"
    assert "pending review" in firm.find_element(By.ID, "screening-state").text
    assert KR_NAVAL["contact_email"] not in firm.page_source
    assert "ML9" not in firm.page_source  # the parties never see the internal reasons

    # the official finds the pair in the queue, with its categories and reasons
    official.get(srv.url + "/console/introductions")
    assert official.find_element(
        By.CSS_SELECTOR, "#introductions a[href='" + ix_url[len(srv.url) :] + "']"
    )
    official.get(srv.url + "/console/screening")
    item = official.find_element(By.ID, f"q-{yard['id']}-{naval['id']}")
    assert "ML9" in item.find_element(By.CSS_SELECTOR, ".categories").text
    assert "frigates" in item.find_element(By.CSS_SELECTOR, ".reasons").text
    screenshot(official, "screening-desktop")
    # a refusal needs a reason: refused without one is sent back
    item.find_element(By.CSS_SELECTOR, "input[value=refused]").click()
    item.find_element(By.CSS_SELECTOR, "form.decide button").click()
    assert (
        "a refusal needs a reason"
        in wait(official).until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.error"))).text
    )
    official.get(srv.url + "/console/screening")
    item = official.find_element(By.ID, f"q-{yard['id']}-{naval['id']}")
    item.find_element(By.CSS_SELECTOR, "input[value=cleared]").click()
    item.find_element(By.CSS_SELECTOR, "form.decide button").click()
    wait(official).until(ec.url_contains("state=decided"))
    decided = official.find_element(By.ID, f"q-{yard['id']}-{naval['id']}")
    assert "Decision: cleared" in decided.find_element(By.CSS_SELECTOR, ".decision").text
    official.get(srv.url + "/console/screening")
    assert not official.find_elements(By.ID, f"q-{yard['id']}-{naval['id']}")

    # cleared: the firm now sees its partner's contact details
    firm.get(ix_url)
    assert "cleared" in firm.find_element(By.ID, "screening-state").text
    contacts = [e.text for e in firm.find_elements(By.CSS_SELECTOR, "dl.contact dd")]
    assert KR_NAVAL["contact_email"] in contacts
