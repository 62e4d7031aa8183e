"""Screenshots of a run report and of the web app, taken with headless Chromium (not part of CI).

    apt-get install chromium                 # Debian's Chromium (or set --chromium to another)
    pip install playwright                   # drives it; no browser download needed
    python docs/screenshots.py --run-dir checkpoints/pictures/cyclegan --image docs/demo_input.png

Writes ``docs/report.png`` (the top of ``RUN/report.html``, regenerated first) and ``docs/app.png``
(``tfgan-translate serve`` of the same run on a free local port, after uploading ``--image``
and pressing Translate).
"""

import argparse
import socket
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="checkpoints/pictures/cyclegan", help="a trained translating run")
    parser.add_argument("--image", required=True, help="the image to upload in the app screenshot")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser (default: %(default)s)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tfgan_translate.app import serve
    from tfgan_translate.app.report import write_report

    page_path = write_report(args.run_dir)
    app, url = serve.launch(run_dir=args.run_dir, port=free_port(), block=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(page_path.resolve().as_uri())
            page.screenshot(path=str(DOCS / "report.png"))
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(url)
            page.locator("input[type=file]").first.set_input_files(args.image)
            page.get_by_role("button", name="Translate").click()
            page.locator("img[alt]").last.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(DOCS / "app.png"))
            browser.close()
    finally:
        app.close()
    print(f"wrote {DOCS / 'report.png'} and {DOCS / 'app.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
