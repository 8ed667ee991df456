"""The support-chat page in headless Chromium: a question typed in, streamed text
appearing, then a citation link with its page number that opens the passage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server_doubles import Quoting

from assistant.server import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not Path(CHROMEDRIVER).is_file(),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver)",
)


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1100,900",
                f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_chat_page_streams_and_shows_cited_pages(live, settings, services, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    app = create_app(settings(), services(generator=Quoting(delay=0.15)))
    server = live(app)
    browser.get(server.url + "/")
    box = browser.find_element(By.ID, "question")
    box.send_keys("How often should I rinse the dust filter?", Keys.ENTER)

    # Streamed text shows while the answer is still pending.
    wait = WebDriverWait(browser, 30, poll_frequency=0.02)
    partial = wait.until(lambda d: next(
        (e.text for e in d.find_elements(By.CSS_SELECTOR, ".msg.bot.pending .text") if e.text),
        False))
    assert partial and "[2" not in partial  # not the finished, linked answer yet

    link = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".msg.bot .text a.cite")))
    assert link.text == "[1, p. 2]"
    bot = browser.find_element(By.CSS_SELECTOR, ".msg.bot")
    assert "Rinse the dust filter every two weeks" in bot.text
    assert "pending" not in bot.get_attribute("class")

    link.click()
    panel = wait.until(ec.visibility_of_element_located((By.ID, "source")))
    assert browser.find_element(By.ID, "source-file").text == "manuals/sweepbot-x9.pdf"
    assert browser.find_element(By.ID, "source-page").text == "2"
    assert "dust filter" in browser.find_element(By.ID, "source-quote").text
    assert "remove the brush cover" in browser.find_element(By.ID, "source-passage").text
    browser.save_screenshot(str(tmp_path / "chat.png"))
    browser.find_element(By.ID, "source-close").click()
    wait.until(ec.invisibility_of_element(panel))

    # Feedback from the page lands in the store.
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='good answer']").click()
    wait.until(lambda d: "Thanks" in d.find_element(By.CSS_SELECTOR, ".feedback").text)
    answer_id = bot.get_attribute("data-answer-id")
    (saved,) = app.state.runtime.feedback.feedback_for(answer_id)
    assert saved.rating == 1
