"""Prepares the schemathesis run of `scripts/fuzz-api.sh` against the
running example app, and writes its `schemathesis.toml`.

Quotas are counted per user (the example's default is 200 requests a
minute), and schemathesis sends a thousand requests in seconds, so every
operation that needs a token is fuzzed as a user of its own, created by the
admin: one operation's requests never spend another's quota. `admin/users`
runs as the admin, logout as a user whose token nothing else needs.

Some operations need data a generated request cannot make: an order of the
caller's in the state the route moves it from (`validate` needs a draft,
`execute` a validated order), and the caller's own id for the owner
routes. The script makes them and hands them to schemathesis as
dictionaries, drawn for half of the generated values of that parameter;
the other half stay generated.

The one route that takes an OpenID provider's token instead
(`reports/orders`, by scope) runs with a client-credentials token from the
provider the app trusts (`scripts/oidc/provider.js`, client `reports`).

    python prepare.py http://127.0.0.1:PORT ADMIN_PASSWORD OUT_DIR ISSUER
"""

import base64
import urllib.parse

import json
import re
import sys
import urllib.error
import urllib.request

PASSWORD = "a passphrase for the fuzzer's own users"


def call(base, method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(base + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}") from e
    return json.loads(text) if text else None


def provider_token(issuer, client, scope):
    """A client-credentials access token from the provider at `issuer`."""
    request = urllib.request.Request(
        f"{issuer}/token",
        method="POST",
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode(),
    )
    secret = base64.b64encode(f"{client}:secret-{client}".encode()).decode()
    request.add_header("Authorization", f"Basic {secret}")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def login(base, username, password):
    return call(base, "POST", "/api/auth/login", {"username": username, "password": password})[
        "access_token"
    ]


def slug(method, path):
    words = re.sub(r"[{}]", "", path).strip("/").replace("/", "-")
    return f"fuzz-{method}-{words}"[:32].rstrip("-")


def main():
    base, admin_password, out, issuer = sys.argv[1:5]
    spec = call(base, "GET", "/openapi.json")
    admin = login(base, "admin", admin_password)

    # One user per operation that needs a token.
    users = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not operation.get("security") or "bearer" not in json.dumps(operation["security"]):
                continue
            key = (method, path, operation["operationId"])
            if path == "/api/admin/users":
                users[key] = {"token": admin}
                continue
            if path == "/api/reports/orders":
                users[key] = {"token": provider_token(issuer, "reports", "reports:read")}
                continue
            name = slug(method, path)
            created = call(
                base,
                "POST",
                "/api/admin/users",
                {"username": name, "password": PASSWORD, "display_name": name},
                token=admin,
            )
            users[key] = {"id": created["id"], "token": login(base, name, PASSWORD)}

    def user(method, path):
        return next(who for (m, p, _), who in users.items() if (m, p) == (method, path))

    # Drafts for `validate`, and validated orders for `execute`, each
    # owned by the user who fuzzes that route.
    def order(token):
        return call(
            base, "POST", "/api/orders", {"item": "a box of pencils", "quantity": 2}, token=token
        )["id"]

    validate = user("post", "/api/orders/{order_id}/validate")
    drafts = [str(order(validate["token"])) for _ in range(3)]
    execute = user("post", "/api/orders/{order_id}/execute")
    validated = []
    for _ in range(2):
        order_id = order(execute["token"])
        call(base, "POST", f"/api/orders/{order_id}/validate", token=execute["token"])
        validated.append(str(order_id))

    # A dictionary per parameter that needs the caller's own data; drawn for
    # half of that parameter's values.
    dictionaries = {"drafts": drafts, "validated": validated}
    lines = [
        f'headers = {{ Authorization = {json.dumps("Bearer " + admin)} }}',
    ]
    for (method, path, operation_id), who in users.items():
        lines += [
            "",
            "[[operations]]",
            # One filter: `include-path` and `include-method` would each
            # match on their own.
            f"include-operation-id = {json.dumps(operation_id)}",
            f'headers = {{ Authorization = {json.dumps("Bearer " + who["token"])} }}',
        ]
        binding = None
        if path == "/api/orders/{order_id}/validate":
            binding = ("path.order_id", "drafts")
        elif path == "/api/orders/{order_id}/execute":
            binding = ("path.order_id", "validated")
        elif "{user_id}" in path:
            binding = ("path.user_id", operation_id)
            dictionaries[operation_id] = [who["id"]]
        if binding:
            name, dictionary = binding
            lines.append(
                f'parameters = {{ "{name}" = {{ dictionary = "{dictionary}", probability = 0.5 }} }}'
            )
    lines += ["", "[dictionaries]"]
    lines += [f"{name} = {{ values = {json.dumps(values)} }}" for name, values in dictionaries.items()]
    with open(f"{out}/schemathesis.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(users)} operations fuzzed each as a user of its own")


if __name__ == "__main__":
    main()
