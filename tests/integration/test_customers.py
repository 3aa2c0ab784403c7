"""Customers stored once per team by email, each with its history, and the search over
quotations (number, customer name, company, email) in the API and the list page."""

from __future__ import annotations

import pytest

from tests.samples import sample_payload

pytestmark = pytest.mark.integration


def customer(name: str, email: str, company: str = "", address: str = "") -> dict:
    return {"name": name, "email": email, "company": company, "address": address}


@pytest.fixture
def sales(client_as):
    return client_as("sales")


def submit(client, **customer_fields) -> dict:
    response = client.post("/api/quotations",
                           json=sample_payload(customer=customer(**customer_fields)))
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_a_known_email_links_to_its_customer_and_updates_it(sales, conn):
    first = submit(sales, name="Ann Buyer", email="ann@acme.example", company="Acme")
    second = submit(sales, name="Ann B. Buyer", email="ANN@acme.example", company="Acme Ltd",
                    address="2 High St")
    other = submit(sales, name="Bob", email="bob@other.example")

    rows = conn.execute("SELECT id, name, email, company, address FROM customers "
                        "ORDER BY id").fetchall()
    assert [row[1:] for row in rows] == [
        ("Ann B. Buyer", "ANN@acme.example", "Acme Ltd", "2 High St"),
        ("Bob", "bob@other.example", "", "")]
    ids = [sales.get(f"/api/quotations/{q['id']}").get_json()["customer_id"]
           for q in (first, second, other)]
    assert ids == [rows[0][0], rows[0][0], rows[1][0]]

    document = sales.get(f"/api/customers/{rows[0][0]}").get_json()
    assert (document["name"], document["company"]) == ("Ann B. Buyer", "Acme Ltd")
    assert [q["id"] for q in document["quotations"]] == [second["id"], first["id"]]
    page = sales.get(f"/customers/{rows[0][0]}").get_data(as_text=True)
    assert f'data-quotation="{first["id"]}"' in page and "2 High St" in page


def test_customers_are_searched_by_name_company_or_email(sales):
    submit(sales, name="Ann Buyer", email="ann@acme.example", company="Acme")
    submit(sales, name="Zoë Müller", email="zoe@berlin.example", company="Müller GmbH")

    def names(query: str) -> list[str]:
        response = sales.get("/api/customers", query_string={"q": query})
        return [c["name"] for c in response.get_json()["items"]]

    assert names("acme") == ["Ann Buyer"] and names("MÜLLER") == ["Zoë Müller"]
    assert names("berlin.ex") == ["Zoë Müller"] and names("nobody") == []
    assert sorted(c["name"] for c in sales.get("/api/customers").get_json()["items"]) == [
        "Ann Buyer", "Zoë Müller"]
    listing = sales.get("/customers?q=acme").get_data(as_text=True)
    assert "Ann Buyer" in listing and "Zoë Müller" not in listing
    assert sales.get("/api/customers?q=" + "x" * 201).status_code == 422


def test_each_team_has_its_own_customers(client_as, make_user, conn):
    sales = client_as("sales")
    first = submit(sales, name="Ann", email="ann@acme.example")
    conn.execute("UPDATE users SET team = 'north' WHERE email = 'sales@example.com'")
    north = submit(sales, name="Ann North", email="ann@acme.example")
    customer_of = {q["id"]: sales.get(f"/api/quotations/{q['id']}").get_json()["customer_id"]
                   for q in (first, north)}
    assert customer_of[first["id"]] != customer_of[north["id"]]  # one per team

    assert [c["name"] for c in sales.get("/api/customers").get_json()["items"]] == ["Ann North"]
    assert sales.get(f"/api/customers/{customer_of[first['id']]}").status_code == 404
    admin = client_as("admin")
    assert len(admin.get("/api/customers").get_json()["items"]) == 2


def test_quotations_are_searched_by_number_customer_company_and_email(sales, conn):
    ann = submit(sales, name="Ann Buyer", email="ann@acme.example", company="Acme")
    zoe = submit(sales, name="Zoë Müller", email="zoe@berlin.example", company="Müller GmbH")

    def found(query: str) -> list[int]:
        response = sales.get("/api/quotations", query_string={"q": query})
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert found(zoe["number"]) == [zoe["id"]]
    assert found(zoe["number"][-4:]) == [zoe["id"]]
    assert found("buyer") == [ann["id"]] and found("GMBH") == [zoe["id"]]
    assert found("@berlin") == [zoe["id"]] and found("example") == [zoe["id"], ann["id"]]
    assert found("%") == [] and found("_") == []  # LIKE's wildcards are taken literally
    assert sales.get("/api/quotations?q=acme&status=sent").get_json()["items"] == []
    page = sales.get("/quotations?q=acme").get_data(as_text=True)
    assert f'data-quotation="{ann["id"]}"' in page and f'data-quotation="{zoe["id"]}"' not in page
    assert 'value="acme"' in page
    assert sales.get("/quotations?q=" + "x" * 201).status_code == 400
    assert sales.get("/api/quotations?q=%00").status_code == 422


def test_a_search_is_kept_across_pages(sales, monkeypatch):
    from quote_service.web import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    for _ in range(2):
        submit(sales, name="Ann", email="ann@acme.example")
    page = sales.get("/quotations?q=acme").get_data(as_text=True)
    assert "q=acme" in page[page.index('rel="next"') - 200:page.index('rel="next"')]
    api = sales.get("/api/quotations?q=acme&limit=1").get_json()
    assert "q=acme" in api["next"]
