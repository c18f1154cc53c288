"""Screenshots of a running console for the docs: python scripts/screenshot.py URL OUT_DIR.

Signs in with the demo login and captures the dashboard (desktop) and the meter list
(desktop and phone), using the system Chromium.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(base: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for name, size, paths in (("desktop", (1280, 800), ["/", "/meters/", "/settings/import/"]),
                                  ("phone", (390, 844), ["/meters/"])):
            page = browser.new_page(viewport={"width": size[0], "height": size[1]}, base_url=base)
            page.goto("/login/")
            page.fill("input[name=username]", "demo")
            page.fill("input[name=password]", "meterhub-demo")
            page.click("button.primary")
            page.wait_for_url("**/")
            for path in paths:
                page.goto(path)
                slug = path.strip("/").replace("/", "-") or "dashboard"
                page.screenshot(path=str(out / f"{name}-{slug}.png"), full_page=False)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
