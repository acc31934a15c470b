"""Calls the contacts methods and the OAuth helpers of the official PyPI SDK
`gohighlevel-api-client` against a running `ghlsync sandbox`.

usage: VENV/bin/python check_py.py SANDBOX_JSON_FILE
  SANDBOX_JSON_FILE  the JSON line the sandbox printed on stdout
  GHL_SDK_TRACE=1    print every request, not only those of failed calls

Prints `ok <method>` or `FAIL <method>: <status> <body or error>` per call, the
request the SDK sent for every failure, and a closing `N passed, N failed` line.
Exits 1 when a call failed.

The SDK (3.0.0) locks `Version: v3` on every request, so the sandbox is checked
against the v3 shapes of apps/v3/contacts-v3.json and apps/v3/oauth-v3.json.
"""

import asyncio
import json
import os
import re
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from importlib.metadata import version

from highlevel import HighLevel
from highlevel.error import GHLError
from highlevel.constants import UserType

TRACE = bool(os.environ.get("GHL_SDK_TRACE"))

with open(sys.argv[1]) as f:
    parsed = json.loads(f.readline())
INFO = parsed.get("ghl", parsed)
BASE = INFO["base_url"]
LOC = INFO["locations"][0]

passed = 0
failed = 0
requests = []  # every request sent during the current call


def short(value, limit=600):
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


async def record_request(request):
    headers = dict(request.headers)
    for name in list(headers):
        if name.lower() == "authorization":
            headers[name] = headers[name][:19] + "..."
    body = request.content.decode("utf-8", "replace") if request.content else None
    if body:
        body = re.sub(r"((?:client_secret|clientSecret)=)[^&]*", r"\1[redacted]", body)
    requests.append({"method": request.method, "url": str(request.url).removeprefix(BASE),
                     "headers": headers, "body": body})


async def record_status(response):
    # Runs before the SDK's own hook (which raises on >= 400).
    for r in reversed(requests):
        if "status" not in r:
            r["status"] = response.status_code
            break


def instrument(ghl):
    """Point the SDK at the sandbox and record what it sends."""
    ghl.http_client.base_url = BASE
    ghl.http_client.event_hooks["request"].append(record_request)
    ghl.http_client.event_hooks["response"].insert(0, record_status)
    return ghl


def show_requests():
    for r in requests:
        print(f"  request: {short(r)}")


class Unexpected(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Unexpected(f"unexpected answer: {what}")


async def call(name, coro_fn, check=None):
    """Run one SDK call. A 2xx whose body fails `check` counts as a failure but its
    result is still returned, so the later calls that need it can go on."""
    global passed, failed
    requests.clear()
    try:
        result = await coro_fn()
        if check:
            try:
                check(result)
            except Unexpected as err:
                failed += 1
                print(f"FAIL {name}: {requests[-1].get('status') if requests else '-'} {err}; got {short(result, 300)}")
                show_requests()
                return result
        passed += 1
        print(f"ok {name}")
        if TRACE:
            show_requests()
        return result
    except GHLError as err:
        failed += 1
        print(f"FAIL {name}: {err.status_code} {short(err.response if err.response is not None else err.message)}")
        show_requests()
    except Exception as err:  # an unexpected answer or a local SDK error
        failed += 1
        status = requests[-1].get("status") if requests else "no-request"
        print(f"FAIL {name}: {status} {type(err).__name__}: {err}")
        show_requests()
    return None


async def call_rejected(name, coro_fn, statuses):
    global passed, failed
    requests.clear()
    try:
        result = await coro_fn()
        failed += 1
        print(f"FAIL {name}: expected a rejection, got {short(result)}")
        show_requests()
    except GHLError as err:
        if err.status_code in statuses:
            passed += 1
            print(f"ok {name} (rejected {err.status_code} {short(err.response)})")
            if TRACE:
                show_requests()
        else:
            failed += 1
            print(f"FAIL {name}: {err.status_code} {short(err.response)}")
            show_requests()


def control(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read() or b"{}")


def succeeded(r):
    # v3 answers carry the correct spelling (and the legacy `succeded` beside it).
    return isinstance(r, dict) and r.get("succeeded") is True


# ------------------------------------------------------------------ contacts (PIT)
async def contacts():
    ghl = instrument(HighLevel(private_integration_token=LOC["token"], log_level="none"))
    c = ghl.contacts
    stamp = int(time.time() * 1000)
    email = f"sdk.py.{stamp}@example.com"
    phone = f"+1555{str(stamp)[-7:]}"
    user_id = LOC["user_ids"][0]
    loc_id = LOC["id"]

    created = await call("create_contact", lambda: c.create_contact({
        "locationId": loc_id, "firstName": "Sdk", "lastName": "Py", "email": email, "phone": phone,
        "tags": ["sdk-py"], "source": "sdk check"}),
        lambda r: expect(r.get("contact", {}).get("id"), "contact.id"))
    if not created:
        print("FAIL create_contact gave no id, skipping the rest of contacts")
        return
    cid = created["contact"]["id"]

    await call("get_contact", lambda: c.get_contact(cid),
               lambda r: expect(r.get("contact", {}).get("id") == cid, "contact.id"))
    await call("update_contact", lambda: c.update_contact(cid, {"firstName": "Updated", "city": "Austin"}),
               lambda r: expect(succeeded(r) and r["contact"]["firstName"] == "Updated",
                                "v3 UpdateContactsSuccessfulResponseDtoV3 {succeeded: true, contact}"))
    await call("upsert_contact", lambda: c.upsert_contact({"locationId": loc_id, "email": email, "lastName": "Upserted"}),
               lambda r: expect(r.get("new") is False and r["contact"]["id"] == cid, "new:false, same id"))
    await call("get_duplicate_contact", lambda: c.get_duplicate_contact(loc_id, email=email),
               lambda r: expect((r.get("contact") or {}).get("id") == cid, "contact.id"))
    await call("search_contacts_advanced", lambda: c.search_contacts_advanced({
        "locationId": loc_id, "page": 1, "pageLimit": 20,
        "filters": [{"field": "email", "operator": "eq", "value": email}]}),
        lambda r: expect(any(x["id"] == cid for x in r.get("contacts", [])), "contacts[] with the contact"))

    business_id = LOC["business_ids"][0]
    await call("add_remove_contact_from_business", lambda: c.add_remove_contact_from_business(
        {"locationId": loc_id, "ids": [cid], "businessId": business_id}),
        lambda r: expect(r.get("success") is True, "success: true"))
    await call("get_contacts_by_business_id", lambda: c.get_contacts_by_business_id(business_id, loc_id, limit="10", skip="0"),
               lambda r: expect(isinstance(r.get("contacts"), list), "contacts[]"))

    due = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    task = await call("create_task", lambda: c.create_task(cid, {
        "title": "Call back", "body": "from the sdk check", "dueDate": due, "completed": False, "assignedTo": user_id}),
        lambda r: expect(r.get("task", {}).get("id"), "task.id"))
    tid = (task or {}).get("task", {}).get("id", "missing")
    await call("get_all_tasks", lambda: c.get_all_tasks(cid), lambda r: expect(isinstance(r.get("tasks"), list), "tasks[]"))
    await call("get_task", lambda: c.get_task(cid, tid), lambda r: expect(r.get("task", {}).get("id") == tid, "task.id"))
    await call("update_task", lambda: c.update_task(cid, tid, {"title": "Call back later"}))
    await call("update_task_completed", lambda: c.update_task_completed(cid, tid, {"completed": True}))
    await call("delete_task", lambda: c.delete_task(cid, tid), lambda r: expect(succeeded(r), "succeeded: true"))

    await call("get_appointments_for_contact", lambda: c.get_appointments_for_contact(cid),
               lambda r: expect(isinstance(r.get("events"), list), "events[]"))

    await call("add_tags", lambda: c.add_tags(cid, {"tags": ["sdk-a", "sdk-b"]}))
    await call("remove_tags", lambda: c.remove_tags(cid, {"tags": ["sdk-b"]}))

    note = await call("create_note", lambda: c.create_note(cid, {"body": "a note from the sdk check", "userId": user_id}),
                      lambda r: expect(r.get("note", {}).get("id"), "note.id"))
    nid = (note or {}).get("note", {}).get("id", "missing")
    await call("get_all_notes", lambda: c.get_all_notes(cid), lambda r: expect(isinstance(r.get("notes"), list), "notes[]"))
    await call("get_note", lambda: c.get_note(cid, nid), lambda r: expect(r.get("note", {}).get("id") == nid, "note.id"))
    await call("update_note", lambda: c.update_note(cid, nid, {"body": "an edited note", "userId": user_id}))
    await call("delete_note", lambda: c.delete_note(cid, nid), lambda r: expect(succeeded(r), "succeeded: true"))

    # SDK bug: create_association takes no `type`, so the path keeps a literal
    # `{type}`. The generated code lets options override the URL, which we use.
    await call("create_association (type=add via options url)", lambda: c.create_association(
        {"contacts": [cid], "tags": ["bulk-sdk"], "locationId": loc_id},
        options={"url": "/contacts/bulk/tags/update/add"}),
        lambda r: expect(succeeded(r), "succeeded: true"))

    await call("add_followers_contact", lambda: c.add_followers_contact(cid, {"followers": [user_id]}))
    await call("remove_followers_contact", lambda: c.remove_followers_contact(cid, {"followers": [user_id]}))

    campaign_id = LOC["campaign_ids"][0]
    await call("add_contact_to_campaign", lambda: c.add_contact_to_campaign(cid, campaign_id, {}),
               lambda r: expect(succeeded(r), "succeeded: true"))
    await call("remove_contact_from_campaign", lambda: c.remove_contact_from_campaign(cid, campaign_id),
               lambda r: expect(succeeded(r), "succeeded: true"))
    await call("remove_contact_from_every_campaign", lambda: c.remove_contact_from_every_campaign(cid),
               lambda r: expect(succeeded(r), "succeeded: true"))

    workflow_id = LOC["workflow_ids"][0]
    start = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    await call("add_contact_to_workflow", lambda: c.add_contact_to_workflow(cid, workflow_id, {"eventStartTime": start}),
               lambda r: expect(succeeded(r), "succeeded: true"))
    await call("delete_contact_from_workflow", lambda: c.delete_contact_from_workflow(cid, workflow_id, {"eventStartTime": start}),
               lambda r: expect(succeeded(r), "succeeded: true"))

    await call("delete_contact", lambda: c.delete_contact(cid), lambda r: expect(succeeded(r), "succeeded: true"))
    await ghl.close()


# ------------------------------------------------------------------ OAuth
async def oauth():
    client_id, client_secret = INFO["client_id"], INFO["client_secret"]
    app_id = client_id.split("-")[0]
    loc_id = LOC["id"]
    ghl = instrument(HighLevel(client_id=client_id, client_secret=client_secret, log_level="none"))

    def has_tokens(r):
        expect(r.get("accessToken") and r.get("refreshToken"), "v3 camelCase accessToken and refreshToken")

    def field(r, camel, snake):
        # the v3 (camelCase) name, or the v2 one so the remaining calls can still run
        return r.get(camel) or r.get(snake)

    code = control("/_sandbox/oauth/code", {"location_id": loc_id, "scope": "contacts.readonly contacts.write",
                                            "redirect_uri": "http://localhost/cb"})["code"]
    # The body as the SDK's GetAccessTokenBodyDto declares it (camelCase).
    tok = await call("oauth.get_access_token(authorization_code)", lambda: ghl.oauth.get_access_token({
        "clientId": client_id, "clientSecret": client_secret, "grantType": "authorization_code",
        "code": code, "userType": "Location", "redirectUri": "http://localhost/cb"}), has_tokens)
    if tok:
        # refresh_token() builds the camelCase body itself.
        old_refresh = field(tok, "refreshToken", "refresh_token")

        def rotated(r):
            has_tokens(r)
            expect(r["refreshToken"] != old_refresh, "a new refreshToken")

        new = await call("oauth.refresh_token", lambda: ghl.oauth.refresh_token(
            old_refresh, client_id, client_secret, "refresh_token", UserType.LOCATION), rotated)
        # urlencode() turns the UserType enum into its name on Python 3.11+, not its value.
        sent = re.search(r"userType=([^&]*)", (requests[0].get("body") or "") if requests else "")
        print(f"# refresh_token(UserType.LOCATION) sent userType={sent.group(1) if sent else '?'}")
        await call_rejected("oauth.refresh_token(reused refresh token)", lambda: ghl.oauth.refresh_token(
            old_refresh, client_id, client_secret, "refresh_token", UserType.LOCATION), (400, 401))
        if new:
            # Token selection by locationId from session storage (no PIT), then the
            # 401 -> refresh -> retry path after every access token expired.
            # The SDK's storage maps camelCase token fields to the snake_case ones it reads.
            await ghl.session_storage.set_session(loc_id, {**new, "userType": "Location"})
            await call("session token picked by body.locationId: search_contacts_advanced",
                       lambda: ghl.contacts.search_contacts_advanced({"locationId": loc_id, "pageLimit": 1}),
                       lambda r: expect(isinstance(r.get("contacts"), list), "contacts[]"))
            control("/_sandbox/tokens/expire-all", {})
            await call("401 -> automatic refresh -> retry: search_contacts_advanced",
                       lambda: ghl.contacts.search_contacts_advanced({"locationId": loc_id, "pageLimit": 1}),
                       lambda r: expect(isinstance(r.get("contacts"), list)
                                        and any(q["url"] == "/oauth/token" and q.get("status") == 200 for q in requests),
                                        "contacts[] after a refresh"))

    agency_code = control("/_sandbox/oauth/code", {
        "location_id": INFO["company_id"], "scope": "oauth.readonly oauth.write contacts.readonly contacts.write",
        "redirect_uri": "http://localhost/cb"})["code"]
    agency = await call("oauth.get_access_token(authorization_code, Company)", lambda: ghl.oauth.get_access_token({
        "clientId": client_id, "clientSecret": client_secret, "grantType": "authorization_code",
        "code": agency_code, "userType": "Company", "redirectUri": "http://localhost/cb"}), has_tokens)
    await ghl.close()
    if not agency:
        return

    ag = instrument(HighLevel(client_id=client_id, client_secret=client_secret,
                              agency_access_token=field(agency, "accessToken", "access_token"), log_level="none"))
    await call("oauth.get_location_access_token", lambda: ag.oauth.get_location_access_token(
        {"companyId": INFO["company_id"], "locationId": loc_id}),
        lambda r: expect(r.get("accessToken") and r.get("locationId") == loc_id, "v3 accessToken, locationId"))
    await call("oauth.get_installed_location", lambda: ag.oauth.get_installed_location(INFO["company_id"], app_id, page_size=10),
               lambda r: expect(any(i.get("_id") == loc_id or i.get("id") == loc_id for i in r.get("items", [])),
                                f"v3 items[] with {loc_id}"))
    await ag.close()


async def main():
    print(f"# gohighlevel-api-client {version('gohighlevel-api-client')} against {BASE}")
    probe = HighLevel(private_integration_token="pit-redacted", log_level="none")
    print(f"# default headers: {json.dumps(probe.get_headers())}")
    await probe.close()
    await contacts()
    await oauth()
    print(f"py: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
