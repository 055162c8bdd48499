"""Schemathesis hooks for scripts/fuzz: the bearer token of each case, and ST302 as it is meant.

FUZZ_TOKEN is the token of the main run's account; FUZZ_BASE the server. Operations that end the session they are
called with (logout, password change, session deletion, and a blueprint's aliases of them: FUZZ_SESSION_ENDING, one
"METHOD /path" a line) get a brand-new account's token on every call, so they can never blind the rest of the run,
and whatever they change (a password, say) touches no other case. Without FUZZ_TOKEN no case carries a token.
"""
import ast, json, os, re, threading, urllib.parse, urllib.request, uuid

import schemathesis
from schemathesis.specs.openapi.checks import ensure_resource_availability

# CPython 3.11 keeps one AST-construction recursion counter per interpreter, so two threads in ast.parse at once
# (hypothesis describes lambdas with it, and --workers 2 runs two) can trip "SystemError: AST constructor recursion
# depth mismatch" (python/cpython#106905), which schemathesis reports as an error of the case. One parse at a time.
_parse, _parse_lock = ast.parse, threading.Lock()


def _serial_parse(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serial_parse

SESSION_ENDING = {tuple(line.split(" ", 1)) for line in os.environ.get("FUZZ_SESSION_ENDING", "").splitlines() if line}


def fresh_token():
    body = json.dumps({"email": f"fuzz-{uuid.uuid4().hex}@example.com", "password": "fuzzing password"}).encode()
    request = urllib.request.Request(os.environ["FUZZ_BASE"] + "/api/v1/auth/signup", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


@schemathesis.auth(refresh_interval=None)
class Bearer:
    """Schemathesis' auth provider, so that its own checks (a missing or mangled token must answer 401) know which
    header is the credential and take it away themselves."""

    def get(self, case, ctx):
        token = os.environ.get("FUZZ_TOKEN")
        if not token:
            return None
        return fresh_token() if (case.method.upper(), case.path) in SESSION_ENDING else token

    def set(self, case, data, ctx):
        if case.headers is None:
            case.headers = {}
        case.headers["Authorization"] = "Bearer " + data


# ST302 (`ensure_resource_availability`: a resource just created answers 404) looks for a DELETE of it in the same
# scenario, and in schemathesis 4.32.5 that look-up can miss one: CI failed on POST /api/v1/conversations, a DELETE
# of it (204), then its approvals (404, as they should be). Nor can it know an app's aliases (Aterges'
# /api/integrations/{id} is /api/v1/integrations/{id}), or a delete that takes the resource with it: CI failed again
# on POST /api/v1/projects in a team, DELETE of that team (204), then PUT of the project (404, as it should be). So
# the check runs as `created_resource_available` instead (scripts/fuzz/run excludes the original), which first asks
# whether a 2xx DELETE of the run removed that URL or one above it, or a resource whose id (a UUID: never reused) is
# in the 404's URL or in what created the resource: its request (the team it was made in) and the `id` it was given.
# Not every UUID of the answer: it names the owner, and removing a member (the account itself) from a team is a
# DELETE ending in the account's id, which would then excuse every 404 of the run.
_deleted_paths, _deleted_ids, _deleted_lock = set(), set(), threading.Lock()
_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _path(response):
    return urllib.parse.urlsplit(response.request.url).path.rstrip("/")


def _uuids(*texts):
    """The UUIDs in each text (str or bytes), lower-cased."""
    found = set()
    for text in texts:
        if text:
            found.update(match.decode().lower() for match in _UUID.findall(text.encode() if isinstance(text, str) else text))
    return found


def _own_id(response):
    """The `id` member of a JSON object answer, if it has one."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), str) else None


@schemathesis.hook
def after_call(context, case, response):
    if case.method.upper() == "DELETE" and 200 <= response.status_code < 300:
        path = _path(response)
        with _deleted_lock:
            _deleted_paths.add(path)
            _deleted_ids.update(_uuids(path.rsplit("/", 1)[-1]))


@schemathesis.check
def created_resource_available(ctx, response, case):
    if response.status_code == 404:
        path = _path(response)
        ids = _uuids(path)
        parent = ctx.internals.find_parent(case_id=case.id)
        created = parent and ctx.internals.find_response(case_id=parent.id)
        if created is not None:
            ids |= _uuids(created.request.url, created.request.body, _own_id(created))
        with _deleted_lock:
            if not ids.isdisjoint(_deleted_ids) or any(path == gone or path.startswith(gone + "/") for gone in _deleted_paths):
                return None
    return ensure_resource_availability(ctx, response, case)
