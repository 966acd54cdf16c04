"""FastAPI with a dependency: the Bearer scheme shows in OpenAPI, the handler gets the grant."""

import os

from fastapi import Depends, FastAPI

from paycheck_core import AccessDecision
from paycheck_integrations.fastapi import Paycheck

SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

paycheck = Paycheck(service="Online marketplace", server_url=SERVER_URL)
app = FastAPI()


@app.get("/getInfo")
async def get_info(grant: AccessDecision = Depends(paycheck.require("getInfo"))) -> dict[str, str]:  # noqa: B008 - FastAPI's idiom
    return {"method": grant.method, "paidUntil": str(grant.paid_until)}


# Or every route of a router, each checked for its route's name:
#   router = APIRouter(dependencies=[Depends(paycheck.require())])
