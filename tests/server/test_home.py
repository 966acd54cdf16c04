"""``GET /``: a person who opens the server's address is pointed at its documentation."""

from __future__ import annotations

from .conftest import Api


async def test_the_root_names_the_docs_the_openapi_document_and_the_guides(api: Api) -> None:
    response = await api.http.get("/")

    assert response.status_code == 200
    body = response.json()
    assert (body["docs"], body["openapi"]) == ("/docs", "/openapi.json")
    assert "/docs" in body["description"]
    assert "/openapi.json" in body["description"]
    assert "docs/" in body["documentation"]


async def test_the_links_of_the_root_answer(api: Api) -> None:
    body = (await api.http.get("/")).json()

    for path in (body["docs"], body["openapi"], body["health"], body["ready"]):
        assert (await api.http.get(path)).status_code == 200, path


async def test_the_root_is_not_part_of_the_api_contract(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()

    assert "/" not in schema["paths"]
