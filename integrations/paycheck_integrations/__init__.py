"""Drop-in Bearer-token validation for ASGI, FastAPI, WSGI and Flask services.

Each framework has its own module; import the one you use (its extra installs the framework):

* :mod:`paycheck_integrations.asgi` — ``PaycheckMiddleware`` (Starlette, FastAPI, any ASGI app)
* :mod:`paycheck_integrations.fastapi` — ``Paycheck`` with ``require()`` dependencies
* :mod:`paycheck_integrations.wsgi` — ``PaycheckWSGIMiddleware``
* :mod:`paycheck_integrations.flask` — the ``Paycheck`` extension
"""

from __future__ import annotations

__all__: list[str] = []
