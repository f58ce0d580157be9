"""Browser helpers for the console tests: login, axe-core, keyboard, screenshots."""

import os
import re
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains

from conftest import ASSETS, SHOTS

_AXE = None
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source():
    global _AXE
    if _AXE is None:
        with open(ASSETS + "-axe/axe.min.js", encoding="utf-8") as f:
            _AXE = f.read()
    return _AXE


def axe_violations(driver):
    """Runs axe-core in the page (WCAG 2.1 A/AA rules); returns its violations as
    [(rule id, [target selectors])]."""
    driver.execute_script(axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, "
        "resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => [v.id, v.nodes.map(n => n.target.join(' '))])))"
        ".catch(e => done([['axe-error', [String(e)]]]));", WCAG_TAGS)
    return [tuple(v) for v in result]


class Visits:
    """Records every URL a browser was on and the axe result of every page."""

    def __init__(self):
        self.urls = []
        self.axe = {}
        self.pages = 0
        self.console = []  # the browsers' console messages (CSP reports land here)

    def check(self, driver, name=None):
        """Records the URL; runs axe once per page kind (route and title, ids
        replaced) and whenever a screenshot is taken (a new state of the page)."""
        self.urls.append(driver.current_url)
        self.console += [e["message"] for e in driver.get_log("browser")]
        path = re.sub(r"^https?://[^/]+", "", driver.current_url.split("?")[0])
        key = re.sub(r"/[A-Za-z0-9_-]{16,}", "/<id>", path) + " " + driver.title
        if key not in self.axe or name:
            self.axe[key + (" " + name if name else "")] = axe_violations(driver)
            self.pages += 1
        if name:
            shot(driver, name)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(700, min(int(height) + 160, 2600)))
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))
    driver.set_window_size(1280, 1000)


def click_and_wait(driver, element, timeout=15.0):
    """Clicks an element that navigates, and waits until the old page is gone (so the
    next lookup cannot find the previous page's elements)."""
    from selenium.common.exceptions import WebDriverException
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            old.is_enabled()  # raises once the page is replaced
        except WebDriverException:  # stale element, or "node not in document"
            return
        time.sleep(0.05)
    raise AssertionError("the click did not lead to a new page")


def click_id(driver, element_id):
    click_and_wait(driver, driver.find_element(By.ID, element_id))


def login(driver, console_url, user, visits=None):
    driver.get(console_url + "/")
    assert driver.current_url.endswith("/logg-inn"), driver.current_url
    if visits is not None:
        visits.check(driver, "logg-inn" if user == "kari" else None)
    click_id(driver, "logg-inn")
    click_id(driver, "user-" + user)
    wait_for(lambda: driver.current_url.startswith(console_url) and
             "/logg-inn" not in driver.current_url)


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception:  # element not there yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def tab_to(driver, element_id, max_tabs=80):
    """Presses TAB until the element with this id has focus; fails if it never does."""
    for _ in range(max_tabs):
        if driver.execute_script("return document.activeElement && "
                                 "document.activeElement.id") == element_id:
            return
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError("%s not reachable by keyboard" % element_id)


def press(driver, *keys):
    ActionChains(driver).send_keys(*keys).perform()
