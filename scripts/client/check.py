"""Calls the running example app through a Python client generated from its
OpenAPI document (openapi-python-client), as a client outside this
repository would: every answer must be one the document declares
(`raise_on_unexpected_status`), and must parse into the document's model
for that status.

    python check.py http://127.0.0.1:PORT ADMIN_PASSWORD WEBHOOK_SECRET

Prints one line per check and a last line in the form the test command
totals: `test result: ok. N passed; M failed`.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
import time
import traceback
import uuid
from http import HTTPStatus

from secure_api_example_client import AuthenticatedClient, Client
from secure_api_example_client.api.accounts import (
    create_user,
    get_user,
    get_user_v1,
    search,
    update_me,
)
from secure_api_example_client.api.identity import (
    confirm_totp,
    enrol_totp,
    login,
    logout,
    refresh,
    register,
)
from secure_api_example_client.api.integrations import payment_webhook
from secure_api_example_client.api.orders import (
    create_order,
    execute_order,
    orders_report,
    validate_order,
)
from secure_api_example_client.api.platform import docs, health, openapi
from secure_api_example_client.models import (
    ConfirmTotpBody,
    CreateOrderBody,
    CreateOrderResponse201,
    CreateOrderResponse201State,
    CreateUserBody,
    CreateUserResponse201,
    EnrolTotpResponse200,
    ExecuteOrderResponse202,
    ExecuteOrderResponse202State,
    GetUserResponse200,
    GetUserV1Response200,
    LoginBody,
    LoginResponse200,
    LogoutBody,
    PaymentWebhookBody,
    PaymentWebhookBodyType,
    Problem,
    RefreshBody,
    RefreshResponse200,
    RegisterBody,
    RegisterResponse201,
    SearchResponse200,
    UpdateMeBody,
    UpdateMeResponse200,
    ValidateOrderResponse200,
)

BASE_URL, ADMIN_PASSWORD, WEBHOOK_SECRET = sys.argv[1:4]
PASSWORD = "a long enough passphrase for the client"


def answered(response, status, model):
    """The answer's status is `status` and its body parsed into `model`."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.content!r}"
    )
    if model is None:
        assert response.parsed is None, f"expected no body, got {response.parsed!r}"
    else:
        assert isinstance(response.parsed, model), (
            f"expected a {model.__name__}, got {response.parsed!r}"
        )
    return response.parsed


def totp(secret, at):
    """RFC 6238: six digits, SHA-1, 30-second steps."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
state = {}


def signed_in(token):
    return AuthenticatedClient(
        base_url=BASE_URL, token=token, raise_on_unexpected_status=True
    )


def check_platform():
    answered(health.sync_detailed(client=anonymous), HTTPStatus.OK, None)
    document = openapi.sync_detailed(client=anonymous)
    assert document.status_code == HTTPStatus.OK
    assert json.loads(document.content)["openapi"] == "3.1.0"
    page = docs.sync_detailed(client=anonymous)
    assert page.status_code == HTTPStatus.OK and b"swagger-ui" in page.content


def check_register_and_login():
    name = f"client-{uuid.uuid4().hex[:12]}"
    user = answered(
        register.sync_detailed(
            client=anonymous,
            body=RegisterBody(username=name, password=PASSWORD, display_name="Client"),
        ),
        HTTPStatus.CREATED,
        RegisterResponse201,
    )
    assert user.username == name and user.display_name == "Client"
    taken = answered(
        register.sync_detailed(
            client=anonymous,
            body=RegisterBody(username=name, password=PASSWORD, display_name="Again"),
        ),
        HTTPStatus.CONFLICT,
        Problem,
    )
    assert taken.status == 409
    pair = answered(
        login.sync_detailed(
            client=anonymous, body=LoginBody(username=name, password=PASSWORD)
        ),
        HTTPStatus.OK,
        LoginResponse200,
    )
    assert pair.token_type == "Bearer" and pair.expires_in > 0
    wrong = answered(
        login.sync_detailed(
            client=anonymous, body=LoginBody(username=name, password="not the password")
        ),
        HTTPStatus.UNAUTHORIZED,
        Problem,
    )
    assert wrong.request_id
    state.update(user=user, name=name, pair=pair, client=signed_in(pair.access_token))


def check_own_account():
    client, user = state["client"], state["user"]
    me = answered(
        get_user.sync_detailed(user.id, client=client), HTTPStatus.OK, GetUserResponse200
    )
    assert (me.id, me.username) == (user.id, user.username)
    old = get_user_v1.sync_detailed(user.id, client=client)
    answered(old, HTTPStatus.OK, GetUserV1Response200)
    assert old.headers["deprecation"] and old.headers["sunset"]
    # `#[owner(user_id)]` compares the path's id with the caller's own:
    # any other id is refused (403), whether or not that user exists.
    other = answered(
        get_user.sync_detailed(user.id + 1_000_000, client=client),
        HTTPStatus.FORBIDDEN,
        Problem,
    )
    assert other.status == 403
    renamed = answered(
        update_me.sync_detailed(client=client, body=UpdateMeBody(display_name="Renamed")),
        HTTPStatus.OK,
        UpdateMeResponse200,
    )
    assert renamed.display_name == "Renamed"
    found = answered(
        search.sync_detailed(client=client, q=state["name"], limit=5),
        HTTPStatus.OK,
        SearchResponse200,
    )
    assert [item.username for item in found.items] == [state["name"]]
    assert found.limit == 5 and found.offset == 0 and not found.has_more
    unsigned = answered(
        get_user.sync_detailed(user.id, client=signed_in("not.a.token")),
        HTTPStatus.UNAUTHORIZED,
        Problem,
    )
    assert unsigned.status == 401


def check_orders():
    client = state["client"]
    order = answered(
        create_order.sync_detailed(
            client=client, body=CreateOrderBody(item="book", quantity=2)
        ),
        HTTPStatus.CREATED,
        CreateOrderResponse201,
    )
    assert order.state == CreateOrderResponse201State.DRAFT
    order_id = str(order.id)
    validated = answered(
        validate_order.sync_detailed(order_id, client=client),
        HTTPStatus.OK,
        ValidateOrderResponse200,
    )
    assert validated.id == order.id
    again = answered(
        validate_order.sync_detailed(order_id, client=client), HTTPStatus.CONFLICT, Problem
    )
    assert again.status == 409
    key = str(uuid.uuid4())
    executed = answered(
        execute_order.sync_detailed(order_id, client=client, idempotency_key=key),
        HTTPStatus.ACCEPTED,
        ExecuteOrderResponse202,
    )
    assert executed.state == ExecuteOrderResponse202State.EXECUTED
    replayed = answered(
        execute_order.sync_detailed(order_id, client=client, idempotency_key=key),
        HTTPStatus.ACCEPTED,
        ExecuteOrderResponse202,
    )
    assert replayed.to_dict() == executed.to_dict()
    scoped = answered(
        orders_report.sync_detailed(client=client), HTTPStatus.FORBIDDEN, Problem
    )
    assert scoped.status == 403
    state["order_id"] = order.id


def check_webhook():
    body = PaymentWebhookBody(
        type_=PaymentWebhookBodyType.PAYMENT_SUCCEEDED,
        order_id=state["order_id"],
        amount=1200,
    )
    # The bytes the generated client sends: httpx's compact JSON.
    content = json.dumps(
        body.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()
    webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + content, hashlib.sha256)
    signature = "v1," + base64.b64encode(mac.digest()).decode()
    send = lambda sig: payment_webhook.sync_detailed(  # noqa: E731
        client=anonymous,
        body=body,
        webhook_id=webhook_id,
        webhook_timestamp=timestamp,
        webhook_signature=sig,
    )
    forged = answered(send("v1," + base64.b64encode(b"0" * 32).decode()), 401, Problem)
    assert forged.status == 401
    answered(send(signature), HTTPStatus.ACCEPTED, None)
    answered(send(signature), HTTPStatus.ACCEPTED, None)


def check_second_factor():
    client = state["client"]
    enrolment = answered(
        enrol_totp.sync_detailed(client=client), HTTPStatus.OK, EnrolTotpResponse200
    )
    assert enrolment.otpauth_uri.startswith("otpauth://totp/")
    wrong = answered(
        confirm_totp.sync_detailed(client=client, body=ConfirmTotpBody(code="000000")),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        Problem,
    )
    assert wrong.status == 422
    code = totp(enrolment.secret, time.time())
    if code == "000000":
        code = totp(enrolment.secret, time.time() + 30)
    answered(
        confirm_totp.sync_detailed(client=client, body=ConfirmTotpBody(code=code)),
        HTTPStatus.NO_CONTENT,
        None,
    )
    # From now on the password alone does not sign in.
    answered(
        login.sync_detailed(
            client=anonymous, body=LoginBody(username=state["name"], password=PASSWORD)
        ),
        HTTPStatus.UNAUTHORIZED,
        Problem,
    )


def check_refresh_and_logout():
    client, pair = state["client"], state["pair"]
    fresh = answered(
        refresh.sync_detailed(
            client=anonymous, body=RefreshBody(refresh_token=pair.refresh_token)
        ),
        HTTPStatus.OK,
        RefreshResponse200,
    )
    assert fresh.refresh_token != pair.refresh_token
    answered(
        refresh.sync_detailed(
            client=anonymous, body=RefreshBody(refresh_token=pair.refresh_token)
        ),
        HTTPStatus.UNAUTHORIZED,
        Problem,
    )
    client = signed_in(fresh.access_token)
    answered(
        logout.sync_detailed(
            client=client, body=LogoutBody(refresh_token=fresh.refresh_token)
        ),
        HTTPStatus.NO_CONTENT,
        None,
    )
    answered(
        get_user.sync_detailed(state["user"].id, client=client),
        HTTPStatus.UNAUTHORIZED,
        Problem,
    )


def check_administration():
    pair = answered(
        login.sync_detailed(
            client=anonymous, body=LoginBody(username="admin", password=ADMIN_PASSWORD)
        ),
        HTTPStatus.OK,
        LoginResponse200,
    )
    admin = signed_in(pair.access_token)
    name = f"staff-{uuid.uuid4().hex[:12]}"
    created = answered(
        create_user.sync_detailed(
            client=admin,
            body=CreateUserBody(
                username=name, password=PASSWORD, display_name="Staff", roles=["user"]
            ),
        ),
        HTTPStatus.CREATED,
        CreateUserResponse201,
    )
    assert created.username == name
    refused = answered(
        create_user.sync_detailed(
            client=signed_in(state["pair"].access_token),
            body=CreateUserBody(username=f"{name}-2", password=PASSWORD, display_name="X"),
        ),
        HTTPStatus.FORBIDDEN,
        Problem,
    )
    assert refused.status == 403


checks = [
    check_platform,
    check_register_and_login,
    check_own_account,
    check_orders,
    check_webhook,
    check_second_factor,
    check_administration,
    check_refresh_and_logout,
]
passed = failed = 0
for check in checks:
    try:
        check()
    except Exception:  # noqa: BLE001 -- every failure is reported, then counted
        failed += 1
        print(f"client check {check.__name__} ... FAILED")
        traceback.print_exc()
    else:
        passed += 1
        print(f"client check {check.__name__} ... ok")
outcome = "ok" if failed == 0 else "FAILED"
print(f"test result: {outcome}. {passed} passed; {failed} failed")
sys.exit(1 if failed else 0)
