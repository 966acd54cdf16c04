"""The Flask extension beyond the shared rules: init_app, config, decorators, current_grant."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, Response, request

from paycheck_integrations.flask import Paycheck, current_grant

from .conftest import PAYMENTS_URL, SERVICE, FakePaymentServer


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_current_grant_and_the_environ_hold_the_grant(payments: FakePaymentServer) -> None:
    app = Flask(__name__)
    Paycheck(app, validator=payments.sync_validator())

    @app.get("/getInfo")
    def getInfo() -> Any:  # noqa: N802 - the method's name
        return {
            "method": current_grant.method,
            "paidUntil": str(current_grant.paid_until),
            "environ": request.environ["paycheck.grant"].method,
        }

    response = app.test_client().get("/getInfo", headers=headers(payments.sell("getInfo")))

    assert response.json == {"method": "getInfo", "paidUntil": "2026-12-31", "environ": "getInfo"}


def test_init_app_reads_the_config_and_registers_the_extension() -> None:
    paycheck = Paycheck()
    app = Flask(__name__)
    app.config.update(PAYCHECK_SERVICE=SERVICE, PAYCHECK_SERVER_URL=PAYMENTS_URL)

    paycheck.init_app(app)

    assert app.extensions["paycheck"] is paycheck
    assert paycheck.validator(app).service == SERVICE
    assert paycheck.validator(app).client.base_url == PAYMENTS_URL


def test_init_app_without_a_service_says_where_to_put_it() -> None:
    with pytest.raises(ValueError, match="PAYCHECK_SERVICE"):
        Paycheck().init_app(Flask(__name__))


def test_an_app_without_init_app_asks_whether_it_was_forgotten() -> None:
    app = Flask(__name__)
    with app.app_context(), pytest.raises(RuntimeError, match="did you forget"):
        Paycheck().validator()


def test_the_method_decorator_renames_a_view(payments: FakePaymentServer) -> None:
    app = Flask(__name__)
    paycheck = Paycheck(app, validator=payments.sync_validator())

    @app.get("/items/<int:item_id>")
    @paycheck.method("getItem")
    def item(item_id: int) -> Any:
        return {"id": item_id}

    response = app.test_client().get("/items/3", headers=headers(payments.sell("getItem")))

    assert response.json == {"id": 3}
    assert payments.checks[0]["methodName"] == "getItem"


def test_every_path_of_one_view_is_checked_for_the_views_method(
    payments: FakePaymentServer,
) -> None:
    app = Flask(__name__)
    paycheck = Paycheck(app, validator=payments.sync_validator())

    @app.get("/items/<int:item_id>")
    @paycheck.method("getItem")
    def item(item_id: int) -> Any:
        return {"id": item_id}

    client = app.test_client()
    replies = [
        client.get(f"/items/{item_id}", headers=headers(payments.sell("getItem"))).json
        for item_id in (1, 2)
    ]

    assert replies == [{"id": 1}, {"id": 2}]
    assert [check["methodName"] for check in payments.checks] == ["getItem", "getItem"]


def test_a_blueprint_view_is_named_without_its_blueprint(payments: FakePaymentServer) -> None:
    app = Flask(__name__)
    Paycheck(app, validator=payments.sync_validator())
    shop = Blueprint("shop", __name__)

    @shop.get("/info")
    def getInfo() -> Any:  # noqa: N802 - the method's name
        return {"endpoint": request.endpoint}

    app.register_blueprint(shop, url_prefix="/shop")

    response = app.test_client().get("/shop/info", headers=headers(payments.sell("getInfo")))

    assert response.json == {"endpoint": "shop.getInfo"}


def test_an_exempt_view_runs_without_a_token_and_without_a_grant(
    payments: FakePaymentServer,
) -> None:
    app = Flask(__name__)
    paycheck = Paycheck(app, validator=payments.sync_validator())

    @app.get("/health")
    @paycheck.exempt
    def health() -> Any:
        return {"granted": bool(current_grant)}

    response = app.test_client().get("/health")

    assert response.json == {"granted": False}
    assert payments.calls == 0


def test_an_exempt_view_after_a_granted_request_has_no_grant(
    payments: FakePaymentServer,
) -> None:
    app = Flask(__name__)
    paycheck = Paycheck(app, validator=payments.sync_validator())

    @app.get("/getInfo")
    def getInfo() -> Any:  # noqa: N802 - the method's name
        return {"granted": bool(current_grant)}

    @app.get("/health")
    @paycheck.exempt
    def health() -> Any:
        return {"granted": bool(current_grant)}

    client = app.test_client()
    granted = client.get("/getInfo", headers=headers(payments.sell("getInfo")))
    exempt = client.get("/health")

    assert (granted.json, exempt.json) == ({"granted": True}, {"granted": False})


def test_without_protect_all_only_required_views_need_a_token(
    payments: FakePaymentServer,
) -> None:
    app = Flask(__name__)
    paycheck = Paycheck(app, validator=payments.sync_validator(), protect_all=False)

    @app.get("/free")
    def free() -> Any:
        return {"free": True}

    @app.get("/info")
    @paycheck.required("getInfo")
    def info() -> Any:
        return {"method": current_grant.method}

    client = app.test_client()

    assert client.get("/free").status_code == 200
    assert client.get("/info").status_code == 401
    assert client.get("/info", headers=headers(payments.sell("getInfo"))).json == {
        "method": "getInfo"
    }


def test_a_path_without_a_view_is_left_to_flask(payments: FakePaymentServer) -> None:
    app = Flask(__name__)
    Paycheck(app, validator=payments.sync_validator())

    assert app.test_client().get("/nowhere").status_code == 404


def test_current_grant_outside_a_checked_view_is_an_error() -> None:
    app = Flask(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="No Paycheck grant"):
        _ = current_grant.method


def test_one_extension_serves_several_apps(payments: FakePaymentServer) -> None:
    paycheck = Paycheck(validator=payments.sync_validator())
    apps = [Flask(__name__), Flask(__name__)]
    for app in apps:
        paycheck.init_app(app)
        app.add_url_rule("/getInfo", "getInfo", lambda: {"method": current_grant.method})
    token = payments.sell("getInfo")

    replies = [app.test_client().get("/getInfo", headers=headers(token)).json for app in apps]

    assert replies == [{"method": "getInfo"}] * 2


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_method_decorator_needs_a_name(name: Any) -> None:
    with pytest.raises(ValueError, match="method name must be a non-empty string"):
        Paycheck().method(name)


def test_a_streamed_preflight_answer_leaves_without_its_body(payments: FakePaymentServer) -> None:
    app = Flask(__name__)
    Paycheck(app, validator=payments.sync_validator())

    @app.route("/getInfo", methods=["GET", "OPTIONS"])
    def getInfo() -> Any:  # noqa: N802 - the method's name
        return Response(iter([b"paid ", b"content"]), headers={"X-Kept": "yes"})

    response = app.test_client().options(
        "/getInfo",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )

    assert (response.status_code, response.get_data()) == (200, b"")
    assert response.headers["Content-Length"] == "0"
    assert response.headers["X-Kept"] == "yes"
    assert payments.calls == 0
