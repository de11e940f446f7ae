"""The cepkit HTTP server: a FastAPI app factory, one router per resource, settings.

``create_app()`` builds the app without connecting anything; the store is opened in the
app's lifespan (or passed in) and kept on ``app.state``. Run it with
``uvicorn --factory server.app:create_app`` (settings from ``CEPKIT_*`` variables).

>>> from server.app import create_app
>>> from server.settings import Settings
>>> create_app(Settings(db="sqlite:///:memory:")).title
'cepkit'
"""

from server.app import create_app
from server.settings import Settings

__all__ = ["Settings", "create_app"]
