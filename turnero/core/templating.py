"""The Jinja2 environment shared by every page (templates in turnero/templates)."""

from pathlib import Path

from starlette.templating import Jinja2Templates

from turnero.core import wait_words

PACKAGE_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
STATIC_DIR = PACKAGE_DIR / "static"
# The words of a wait estimate (templates/_eta.html): the same as the ESC/POS slip's and the SMS's.
templates.env.globals["wait_words"] = wait_words
