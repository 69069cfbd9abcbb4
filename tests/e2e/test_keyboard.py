"""A clerk works a task with the keyboard only, in real Chromium: sign in, skip to the content,
Tab to the task in the inbox and open it with Enter, tick the checkbox with Space, type the
note, Tab to the button and send with Enter. Every element the keyboard reaches shows a focus
ring (:focus-visible with an outline), and the skip link appears when it has the focus."""

from __future__ import annotations

import pytest

from tests.e2e.live_app import chromium, live_company  # noqa: F401 - the browser fixtures
from tests.webui.conftest import PASSWORD

pytestmark = pytest.mark.e2e

FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {
    tag: e.tagName.toLowerCase(),
    name: e.getAttribute('name') || '',
    type: e.getAttribute('type') || '',
    text: (e.textContent || '').trim().slice(0, 40),
    className: e.className || '',
    focusVisible: e.matches(':focus-visible'),
    ring: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== 'none',
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
      && box.left < innerWidth && box.top < innerHeight,
  };
}"""


class Keyboard:
    """Tab through a page, checking that each element reached shows its focus."""

    def __init__(self, tab) -> None:
        self.tab = tab
        self.visited: list[dict] = []

    def focused(self) -> dict:
        return self.tab.evaluate(FOCUSED)

    def press(self, key: str) -> dict:
        self.tab.keyboard.press(key)
        now = self.focused()
        if now["tag"] not in ("body", "main"):
            self.visited.append(now)
            assert now["focusVisible"] and now["ring"], f"no visible focus on {now}"
            assert now["onScreen"], f"focused but not on the screen: {now}"
        return now

    def tab_to(self, wanted, limit: int = 40) -> dict:
        for _ in range(limit):
            now = self.press("Tab")
            if wanted(now):
                return now
        raise AssertionError(f"not reached with Tab: visited {self.visited}")


def test_a_task_from_the_inbox_to_done_with_the_keyboard_only(
    live_company,  # noqa: F811
    chromium,  # noqa: F811
    runtime,
):
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    keys = Keyboard(tab)
    try:
        # Sign in: the name field has the focus; type, Tab, type, Enter.
        tab.goto(f"{live_company.base}/login")
        # Chromium applies `autofocus` at its next rendering opportunity, which may come
        # after the load event: wait for it, as a person waits for the cursor.
        tab.wait_for_function("document.activeElement && document.activeElement.name === 'name'")
        tab.keyboard.type("alice")
        keys.press("Tab")
        tab.keyboard.type(PASSWORD)
        with tab.expect_navigation():
            tab.keyboard.press("Enter")
        assert tab.url.endswith("/tasks"), tab.inner_text("main")[:300]

        # The first Tab reaches the skip link, shown while it has the focus; Enter skips the
        # header and its links.
        skip = keys.press("Tab")
        assert "skip-link" in skip["className"]
        tab.keyboard.press("Enter")
        assert tab.evaluate("() => document.activeElement.id") == "main"
        task = keys.tab_to(lambda f: f["tag"] == "a" and f["text"] == "受理審核")
        assert task["text"] == "受理審核"
        with tab.expect_navigation():
            tab.keyboard.press("Enter")
        assert tab.url.endswith(f"/tasks/{live_company.review_task_id}")

        # The form: Space ticks the checkbox, the note is typed, Enter on the button sends.
        keys.tab_to(lambda f: f["name"] == "approve")
        keys.press("Space")
        assert tab.is_checked("input[name=approve]")
        keys.tab_to(lambda f: f["name"] == "note")
        tab.keyboard.type("資料齊全，受理。")
        keys.tab_to(lambda f: f["tag"] == "button" and "primary" in f["className"])
        with tab.expect_navigation():
            tab.keyboard.press("Enter")
        assert tab.url.endswith("/tasks")
        assert "已完成" in tab.text_content("main")
        done = runtime.get_task(live_company.review_task_id)
        assert done.status == "done" and done.completed_by == "alice"
        assert (done.data or {}).get("approve") is True
        assert (done.data or {}).get("note") == "資料齊全，受理。"
        # Everything reached on the way had a focus ring (checked at each key).
        assert len(keys.visited) >= 5
    finally:
        context.close()
