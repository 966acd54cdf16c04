"""Drop-in Bearer-token validation for ASGI, FastAPI, WSGI and Flask services.

Each framework has its own module; import the one you use (its extra installs the framework).
One line protects a service:

* Starlette, FastAPI or any ASGI app (``paycheck-suite[asgi]``)::

      app.add_middleware(PaycheckMiddleware, service="Online marketplace",
                         server_url="http://payments:8000")   # paycheck_integrations.asgi

* FastAPI, per route or router, with the Bearer scheme in OpenAPI (``paycheck-suite[fastapi]``)::

      paycheck = Paycheck(service="Online marketplace", server_url="http://payments:8000")
      app = FastAPI(dependencies=[Depends(paycheck.require())])  # paycheck_integrations.fastapi

* any WSGI app (no extra)::

      app = PaycheckWSGIMiddleware(app, service="Online marketplace",
                                   server_url="http://payments:8000")  # paycheck_integrations.wsgi

* Flask (``paycheck-suite[flask]``)::

      paycheck = Paycheck(app, service="Online marketplace",
                          server_url="http://payments:8000")  # paycheck_integrations.flask

Every adapter answers the same way: 401 without Bearer credentials (no header, or another
scheme), 400 ``invalid_request`` for a malformed Bearer header or a check the payment server
calls malformed, 401 ``invalid_token`` or 403 ``insufficient_scope`` when the payment server
refuses, 503 with ``Retry-After`` when it cannot answer; always with a ``{"description": ...}``
JSON body. Only a CORS preflight passes without a token, and its answer without a body.
"""

from __future__ import annotations

__all__: list[str] = []
