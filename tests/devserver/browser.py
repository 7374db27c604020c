"""Browser tests' helpers: Debian's Chromium driven by Playwright (nothing downloaded), and
the screenshots they leave for a person to look at.

Screenshots go to `tests-artifacts/screenshots/` at the repository's root (git ignores it);
the test session's summary prints where they are.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

__all__ = ["SCREENSHOTS", "browser_page", "chromium_path", "screenshot", "taken"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests-artifacts" / "screenshots"
TIMEOUT_MS = 20_000
"""Generous: two cores are shared with other work; every wait ends as soon as it is met."""
taken: list[Path] = []
"""The screenshots this session wrote (the terminal summary names their folder)."""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "the UI browser tests need Chromium: install Debian's package with "
            "`apt-get install -y chromium` (Playwright downloads nothing here)"
        )
    return path


@contextlib.asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    """A fresh page of headless Chromium, 1280x900, with generous timeouts."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """The whole page as `<name>.png` in the screenshots folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    taken.append(path)
    return path
