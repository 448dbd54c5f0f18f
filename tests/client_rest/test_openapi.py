"""``/openapi.json`` is a valid OpenAPI 3.1 document of every route, and ``/docs`` renders it."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.client_rest.conftest import Running, curl

ROUTES = {
    ("post", "/v1/login"),
    ("post", "/v1/logout"),
    ("get", "/v1/account"),
    ("get", "/.well-known/autoconfig/mail/config-v1.1.xml"),
    ("get", "/mail/config-v1.1.xml"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/v1/mailboxes"),
    ("post", "/v1/mailboxes"),
    ("get", "/v1/mailboxes/{mailbox_id}"),
    ("patch", "/v1/mailboxes/{mailbox_id}"),
    ("delete", "/v1/mailboxes/{mailbox_id}"),
    ("get", "/v1/mailboxes/{mailbox_id}/messages"),
    ("get", "/v1/messages/{message_id}/raw"),
    ("patch", "/v1/messages/{message_id}/keywords"),
    ("post", "/v1/messages/{message_id}/move"),
    ("delete", "/v1/messages/{message_id}"),
    ("get", "/v1/messages/{message_id}"),
    ("get", "/v1/messages/{message_id}/parts/{part}"),
    ("get", "/v1/search"),
    ("get", "/v1/events"),
    ("get", "/v1/status"),
    ("post", "/v1/send"),
}


def test_document_is_valid_and_lists_every_route(rest: Running) -> None:
    reply = curl(f"{rest.url}/openapi.json")
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    document = reply.json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    listed = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert listed == ROUTES
    served = {(r.method.lower(), r.resource.canonical) for r in rest.service.app().router.routes()
              if r.resource is not None and r.method != "HEAD"}  # fmt: skip
    assert served == ROUTES
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))


def test_document_says_what_each_route_takes_and_answers(rest: Running) -> None:
    document = curl(f"{rest.url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    login = document["paths"]["/v1/login"]["post"]
    body_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[body_ref.rsplit("/", 1)[1]]["required"] == ["address", "password"]
    assert {"200", "400", "401", "413", "415", "422", "429"} <= set(login["responses"])
    assert "application/problem+json" in login["responses"]["401"]["content"]
    assert "security" not in login
    account = document["paths"]["/v1/account"]["get"]
    assert account["security"] == [{"bearer": []}] and "401" in account["responses"]
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["paths"]["/v1/logout"]["post"]["responses"]["204"]
    autoconfig = document["paths"]["/mail/config-v1.1.xml"]["get"]
    assert [p["name"] for p in autoconfig["parameters"]] == ["emailaddress"]
    assert "application/xml" in autoconfig["responses"]["200"]["content"]
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}


def test_docs_page_is_browsable_and_self_contained(rest: Running) -> None:
    reply = curl(f"{rest.url}/docs")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    page = reply.body.decode()
    for _, path in ROUTES:
        assert f"<code>{path}</code>" in page
    assert "<script" not in page and not re.search(r'(src|href)="https?://', page)
    # every problem type a reply can carry has its anchor on the page
    problem = curl(f"{rest.url}/v1/account").json()
    anchor = problem["type"].split("#", 1)[1]
    assert f'id="{anchor}"' in page
    for kind in ("invalid", "too-large", "limit", "bad-request", "internal"):
        assert f'id="problem-{kind}"' in page
