"""Every main page of the console at 1280 px and 390 px in headless Chromium: landmarks, labels
and headings; the contrast of every piece of text against what is behind it (WCAG AA, 4.5:1,
from the browser's computed styles); no sideways scrolling; and a screenshot of each, saved as
an artifact (``MATCHMAKER_TEST_ARTIFACTS``, else ``artifacts/``). The charts' colour pairs, which
are SVG fills, are checked from the stylesheet."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import httpx
import pytest

from tests.console.conftest import WIDTHS, official_key, register, screenshot
from tests.console.test_console_browser import sign_in
from tests.console.test_console_workflow import IN_WIND, IN_YARD, KR_NAVAL, KR_WIND

pytestmark = pytest.mark.slow

CSS = Path(__file__).resolve().parents[2] / "service" / "console" / "static" / "console.css"
AA = 4.5

STRUCTURE = """
const problems = [];
const d = document;
if (!d.documentElement.lang) problems.push('no lang on <html>');
if (!d.title.trim()) problems.push('no title');
if (d.querySelectorAll('main').length !== 1) problems.push('not exactly one <main>');
if (!d.querySelector('body > header')) problems.push('no banner <header>');
if (!d.querySelector('body > footer')) problems.push('no <footer>');
if (!d.querySelector('a.skip[href="#main"]')) problems.push('no skip link to #main');
d.querySelectorAll('nav').forEach(n => {
  if (!n.getAttribute('aria-label')) problems.push('<nav> without aria-label');
});
if (d.querySelectorAll('h1').length !== 1) problems.push('not exactly one <h1>');
let prev = 0;
d.querySelectorAll('main h1, main h2, main h3, main h4').forEach(h => {
  const level = +h.tagName[1];
  if (prev && level > prev + 1) problems.push('heading skips a level: ' + h.textContent.trim());
  prev = level;
});
d.querySelectorAll('input, select, textarea').forEach(el => {
  if (el.type === 'hidden') return;
  const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby');
  if (!named) problems.push('unlabelled control: ' + el.outerHTML.slice(0, 100));
});
d.querySelectorAll('button, a[href]').forEach(el => {
  if (!el.textContent.trim() && !el.getAttribute('aria-label'))
    problems.push('control without a name: ' + el.outerHTML.slice(0, 100));
});
d.querySelectorAll('svg').forEach(s => {
  if (s.getAttribute('role') !== 'img' || !s.getAttribute('aria-label'))
    problems.push('svg without role=img and a label');
});
const ids = {};
d.querySelectorAll('[id]').forEach(e => { ids[e.id] = (ids[e.id] || 0) + 1; });
for (const k in ids) if (ids[k] > 1) problems.push('duplicate id ' + k);
d.querySelectorAll('form').forEach(f => {
  if ((f.method || 'get').toLowerCase() === 'post' && !f.querySelector('input[name=csrf]'))
    problems.push('POST form without a CSRF token: ' + f.action);
});
return problems;
"""

# Each visible run of text outside the charts: its colour and the colour behind it (the
# element's and its ancestors' backgrounds composited over the white page).
TEXT_COLOURS = """
function rgba(c) {
  const m = c.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function behind(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let base = [255, 255, 255];
  for (let i = layers.length - 1; i >= 0; i--) {
    const [r, g, b, a] = layers[i];
    base = [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a), b * a + base[2] * (1 - a)];
  }
  return base;
}
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const t = walker.currentNode;
  if (!t.textContent.trim()) continue;
  const el = t.parentElement;
  if (el.closest('svg, option, script')) continue;
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden' || st.display === 'none') continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || r.right <= 0) continue;  // e.g. the skip link, parked
  const fg = rgba(st.color), bg = behind(el);
  const mixed = [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3]));
  out.push({text: t.textContent.trim().slice(0, 40), tag: el.tagName, cls: el.className,
            fg: mixed, bg: bg});
}
return out;
"""


def luminance(rgb) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_rgb(value: str) -> tuple[int, int, int]:
    h = value.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def test_contrast_helper_knows_wcag_examples():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)  # #777
    assert contrast((118, 118, 118), (255, 255, 255)) >= AA  # #767676, the lightest grey


def test_chart_text_colours_in_the_stylesheet_pass_aa():
    """The heatmap writes each count on its cell: dark text up to shade 2, light from shade 3
    (``charts.Heatmap.shade`` and the template's ``light`` class); labels sit on the white card."""
    css = CSS.read_text()
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", css))
    fills = {
        name: hex_rgb(variables.get(value[6:-1], value) if value.startswith("var(") else value)
        for name, value in re.findall(r"\.([\w.-]+)\s*\{[^}]*?fill:\s*([^;]+);", css)
    }
    dark, light = fills["num"], fills["num.light"]
    assert contrast(fills["lbl"], (255, 255, 255)) >= AA
    for shade in range(5):
        text = light if shade >= 3 else dark
        ratio = contrast(text, fills[f"heat-{shade}"])
        assert ratio >= AA, f"heat-{shade}: {ratio:.2f}"


@pytest.fixture(scope="module")
def scene(console_server):
    """A registry with an introduction, a brokered pair awaiting screening review."""
    srv = console_server
    wind_in, wind_kr, yard, naval = register(srv, [IN_WIND, KR_WIND, IN_YARD, KR_NAVAL])
    r = httpx.post(
        srv.url + f"/v1/profiles/{wind_in['id']}/interests",
        json={"to": wind_kr["id"], "message": "Blades for your towers?"},
        headers={"X-API-Key": wind_in["api_key"]},
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        srv.url + f"/v1/interests/{r.json()['id']}/accept",
        headers={"X-API-Key": wind_kr["api_key"]},
    )
    assert r.status_code == 200, r.text
    off = official_key(srv)
    r = httpx.post(
        srv.url + "/v1/introductions",
        json={"profiles": [yard["id"], naval["id"]], "message": "Hull blocks for frigates."},
        headers={"X-API-Key": off},
    )
    assert r.status_code == 201, r.text
    ix = httpx.get(
        srv.url + f"/v1/introductions?profile={wind_in['id']}", headers={"X-API-Key": off}
    ).json()["items"][0]["id"]
    return {"owner": wind_in, "official": off, "yard": yard, "introduction": ix}


def pages(scene) -> list[tuple[str, str | None, str]]:
    """(name, key to sign in with or None, path)."""
    owner, off = scene["owner"], scene["official"]
    return [
        ("signin", None, "/console/signin"),
        ("register", None, "/console/register"),
        ("own-profile", owner["api_key"], f"/console/profiles/{owner['id']}"),
        ("own-introduction", owner["api_key"], f"/console/introductions/{scene['introduction']}"),
        ("registry", off, "/console/registry"),
        ("profile", off, f"/console/profiles/{scene['yard']['id']}"),
        ("pairings", off, "/console/pairings"),
        ("exports", off, "/console/exports"),
        ("introductions", off, "/console/introductions"),
        ("screening", off, "/console/screening"),
    ]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_is_labelled_legible_fits_and_is_photographed(
    console_server, scene, browser_factory, width
):
    srv = console_server
    driver = browser_factory(width)
    driver.get(srv.url + "/console/signin")
    signed_in_as = None
    failures: list[str] = []
    for name, key, path in pages(scene):
        if key != signed_in_as:
            driver.delete_all_cookies()
            if key is not None:
                sign_in(driver, srv, key)
            signed_in_as = key
        driver.set_window_size(*WIDTHS[width])
        driver.get(srv.url + path)
        assert driver.current_url == srv.url + path, (name, driver.current_url)
        assert driver.find_element("tag name", "h1").text not in ("Not found", "Not allowed")
        failures += [f"{name}: {p}" for p in driver.execute_script(STRUCTURE)]
        runs = driver.execute_script(TEXT_COLOURS)
        assert len(runs) > 5, name
        for run in runs:
            ratio = contrast(run["fg"], run["bg"])
            if ratio < AA:
                failures.append(
                    f"{name}: {ratio:.2f}:1 for {run['tag']}.{run['cls']} {run['text']!r}"
                )
        if not driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"
        ):
            failures.append(f"{name}: scrolls sideways at {WIDTHS[width][0]} px")
        shot = screenshot(driver, f"{name}-{WIDTHS[width][0]}")
        assert png_size(shot)[0] == WIDTHS[width][0], (shot, png_size(shot))
    assert not failures, "\n".join(failures)
