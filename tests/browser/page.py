"""The playground in a real browser, through its data-testid hooks and window.codering."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

# `make screenshots` sets it to docs/screenshots; otherwise they go to the test's tmp dir.
SCREENSHOTS = os.environ.get("CODERING_SCREENSHOTS")


class Page:
    """The playground in the browser, through its data-testid hooks and window.codering."""

    def __init__(self, driver: webdriver.Chrome, url: str, shots: Path) -> None:
        self.driver, self.url, self.shots = driver, url, shots

    def open(self, fresh: bool = True) -> Page:
        self.driver.get(self.url + "/")
        if fresh:
            self.driver.execute_script("localStorage.clear()")
            self.driver.refresh()
        self.wait(lambda: self.js("return document.body.dataset.ready") == "true", "the page to be ready")
        return self

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def find(self, testid: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, testid: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def text(self, testid: str) -> str:
        """textContent: what the element holds, trailing newlines included."""
        return self.js("return arguments[0].textContent", self.find(testid))

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; status: {self.text('status')!r}")

    def pick(self, runtime: str) -> None:
        self.js("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                self.find("runtime"), runtime)  # fmt: skip
        self.wait(lambda: self.js("return window.codering.runtime()") == runtime, f"runtime {runtime}")

    def fill(self, testid: str, text: str) -> None:
        field = self.find(testid)
        field.clear()
        field.send_keys(text)

    def run(self, button: str = "run", timeout: float = 60) -> str:
        """Clicks Run and waits for its answer; returns the status line."""
        self.find(button).click()
        self.wait(lambda: not self.find("run").is_enabled() or "running" not in self.text("status"), "the run to start")
        return self.wait(lambda: self.find("run").is_enabled() and self.text("status"), "the run's answer", timeout)

    def terminal(self) -> str:
        """What the terminal shows, one line per row (xterm's DOM renderer)."""
        rows = self.js("return [...document.querySelectorAll('.xterm-rows > div')].map(r => r.textContent)")
        return "\n".join(row.replace("\xa0", " ").rstrip() for row in rows).strip()

    def console_errors(self) -> list[dict]:
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        """The whole page (the window grown to its height for the shot), as a PNG."""
        target = Path(SCREENSHOTS) if SCREENSHOTS else self.shots
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        size = self.driver.get_window_size()
        height = self.js("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size["width"], max(size["height"], height + 20))
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(size["width"], size["height"])
        return path
