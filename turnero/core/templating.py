"""The Jinja2 environment shared by every page (templates in turnero/templates)."""

from pathlib import Path

from starlette.templating import Jinja2Templates

PACKAGE_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
STATIC_DIR = PACKAGE_DIR / "static"
