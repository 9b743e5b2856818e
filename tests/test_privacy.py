"""Masking personal data in payloads and text: personal keys at any depth and in any spelling,
e-mail addresses anywhere, JSON or not; the list of personal fields is configurable."""

from __future__ import annotations

import orjson
import pytest

from collectors.privacy import FIELDS_ENV, MASK, is_personal, mask, mask_text

ADDRESS = "ana.pereira+leads@mail.example.org"


@pytest.mark.parametrize("key", [
    "email", "Email", "EMAIL", "e-mail", "E_Mail", "work_email", "emailAddress", "phone",
    "MobilePhone", "mobilephone", "phone_number", "firstname", "FirstName", "first_name",
    "lastname", "name", "full_name", "Full Name", "address", "street", "postalCode", "zip",
    "client_ip", "date_of_birth",
])
def test_a_key_naming_a_personal_field_is_personal_in_any_spelling(key):
    assert is_personal(key)


@pytest.mark.parametrize("key", ["hostname", "lead_id", "lifecyclestage", "createdate",
                                 "hubspot_owner_id", "status", "route", "qualified", "zipped"])
def test_a_key_that_only_contains_a_personal_word_is_not_personal(key):
    assert not is_personal(key)


def test_personal_fields_are_masked_at_any_depth_and_other_fields_are_kept():
    record = {"id": "1", "properties": {"Email": ADDRESS, "lead_id": "L-1", "contact": {
        "address": {"street": "1 Main St", "city": "Lisbon"}, "phones": [{"mobile": "+351"}]}},
        "items": [[{"full_name": "Ana Pereira"}]]}
    masked = mask(record)
    assert masked["properties"]["Email"] == MASK
    assert masked["properties"]["lead_id"] == "L-1" and masked["id"] == "1"
    assert masked["properties"]["contact"]["address"] == MASK
    assert masked["properties"]["contact"]["phones"] == [{"mobile": MASK}]
    assert masked["items"] == [[{"full_name": MASK}]]
    assert record["properties"]["Email"] == ADDRESS  # a copy: the stored value is untouched


@pytest.mark.parametrize("value", [
    ADDRESS, f"write to <{ADDRESS}> today", f"mailto:{ADDRESS}",
    "contact=" + ADDRESS.replace("@", "%40") + "&x=1",
    "escaped in cut-off JSON: " + ADDRESS.replace("@", "\\u0040"),
    f"Contact with email {ADDRESS.upper()} already exists",
])
def test_an_email_address_is_masked_in_any_value_under_any_key(value):
    masked = orjson.dumps(mask({"note": value, "list": [value], "deep": {"x": {"y": value}}}))
    assert b"ana.pereira" not in masked.lower() and MASK.encode() in masked


def test_json_held_in_a_string_value_is_masked_inside():
    masked = mask({"data": orjson.dumps({"phone": "+44 20 7946 0958", "ok": 1}).decode()})
    assert orjson.loads(masked["data"]) == {"phone": MASK, "ok": 1}


@pytest.mark.parametrize("raw", [
    pytest.param(f'{{"email": "{ADDRESS}", "phone": "+1 555 0100", "lead_id": "L-1"',
                 id="cut-off-json"),
    pytest.param(f"email={ADDRESS}&phone=+15550100&lead_id=L-1", id="form-encoded"),
    pytest.param(f"{{'email': '{ADDRESS}', 'phone': '+1 555 0100', 'lead_id': 'L-1'}}",
                 id="python-repr"),
    pytest.param(f"lead L-1 rejected: 'time' '{ADDRESS}' is not a time; phone: +15550100",
                 id="sentence"),
])
def test_text_that_is_not_json_is_masked_by_the_same_rules(raw):
    masked = mask_text(raw)
    assert "ana.pereira" not in masked and "555" not in masked and "0100" not in masked
    assert "L-1" in masked and MASK in masked


def test_json_text_stays_json_with_its_personal_fields_masked():
    raw = orjson.dumps({"specversion": "1.0", "data": {"firstname": "Ana", "score": 3}})
    assert orjson.loads(mask_text(raw.decode())) == {"specversion": "1.0", "data": {
        "firstname": MASK, "score": 3}}
    assert mask_text(None) is None and mask_text("plain words") == "plain words"


def test_the_list_of_personal_fields_is_configurable(monkeypatch):
    record = {"name": "POST /leads", "iban": "DE89 3704", "note": ADDRESS}
    monkeypatch.setenv(FIELDS_ENV, "iban, Tax-ID")
    assert mask(record) == {"name": "POST /leads", "iban": MASK, "note": MASK}
    assert is_personal("tax_id") and not is_personal("email")
    monkeypatch.delenv(FIELDS_ENV)
    assert mask(record)["name"] == MASK and mask(record)["iban"] == "DE89 3704"


def test_json_text_with_nothing_personal_is_kept_as_stored_even_with_repeated_keys():
    stored = '{"id": "broken",  "specversion": "1.0"}'
    assert mask_text(stored) == stored
    repeated = f'{{"note": "{ADDRESS}", "x": {{"phone": "+1 555 0100"}}, "note": "ok", "x": 1}}'
    masked = mask_text(repeated)
    assert "ana.pereira" not in masked and "555" not in masked


def test_a_database_error_quoting_a_value_is_masked_before_it_is_logged():
    from sqlalchemy.exc import DataError

    from collectors.runner import _first_line

    error = DataError("INSERT INTO events ...", None, Exception(
        f'invalid input syntax for type bigint: "{ADDRESS}"\nLINE 1: ...'))
    assert _first_line(error) == f'invalid input syntax for type bigint: "{MASK}"'
