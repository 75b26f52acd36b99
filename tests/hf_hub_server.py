"""A small Hugging Face Hub server (stdlib only) for the IO tests: what ``HfFileSystem`` and ``HfApi`` call.

Repos live in memory, one tree per revision (``main`` unless a commit names another).
Implemented (``{t}`` is ``models`` or ``datasets``; model repos have no prefix in
``resolve`` URLs):

- ``POST /api/repos/create``
- ``GET /api/{t}/{ns}/{name}[/revision/{rev}]``                   repo info
- ``GET /api/{t}/{ns}/{name}/tree/{rev}[/{path}]``               listing (``recursive``)
- ``POST /api/{t}/{ns}/{name}/paths-info/{rev}``                 entries for given paths
- ``POST /api/{t}/{ns}/{name}/preupload/{rev}``                  every file uploads "regular"
- ``POST /api/{t}/{ns}/{name}/commit/{rev}``                     ndjson: header, file (base64), deletedFile
- ``HEAD|GET /[datasets/]{ns}/{name}/resolve/{rev}/{path}``     with ``Range`` → 206

Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``,
``GatedRepo``) as the Hub does, so ``huggingface_hub`` raises its own exception types. A repo
created ``private`` is gated: only its creator's token may read it (403 otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

Repo = dict[str, dict[str, bytes]]  # revision -> path -> bytes

_INFO = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/([^/]+))?$")
_TREE = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$")
_ACTION = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)/(paths-info|preupload|commit)/([^/]+)$")
_RESOLVE = re.compile(r"^/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class HubState:
    """The repos, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.owners: dict[tuple[str, str], str] = {}  # gated repo -> the token that may read it

    def sha(self, kind: str, repo: str, revision: str) -> str:
        files = self.repos[(kind, repo)][revision]
        digest = hashlib.sha1(repr(sorted((p, hashlib.sha1(b).hexdigest()) for p, b in files.items())).encode())
        return digest.hexdigest()


def _entry(path: str, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "path": path}
    return {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": path}


class HubHandler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), {"X-Error-Code": code,
                                                                       "X-Error-Message": message})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _files(self, kind: str, repo: str, revision: str | None) -> dict[str, bytes] | None:
        state = self.server.state
        revisions = state.repos.get((kind, repo))
        if revisions is None:
            self._error(404, "RepoNotFound", f"repository {repo} not found")
            return None
        owner = state.owners.get((kind, repo))
        if owner is not None and self.headers.get("Authorization") != f"Bearer {owner}":
            self._error(403, "GatedRepo", f"access to {repo} is restricted")
            return None
        files = revisions.get(revision or "main")
        if files is None:
            self._error(404, "RevisionNotFound", f"revision {revision} not found")
            return None
        return files

    # -- verbs ---------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        path = unquote(url.path)
        state = self.server.state
        with state.lock:
            if match := _INFO.match(path):
                kind, repo, revision = match.groups()
                files = self._files(kind, repo, revision)
                if files is not None:
                    self._json({"id": repo, "sha": state.sha(kind, repo, revision or "main"), "private": False,
                                "siblings": [{"rfilename": p} for p in sorted(files)], "tags": [], "downloads": 0,
                                "likes": 0})
            elif match := _TREE.match(path):
                kind, repo, revision, prefix = match.groups()
                files = self._files(kind, repo, revision)
                if files is not None:
                    recursive = parse_qs(url.query).get("recursive", ["false"])[0].lower() == "true"
                    self._json(_tree(files, (prefix or "").strip("/"), recursive))
            elif match := _RESOLVE.match(path):
                datasets, repo, revision, file = match.groups()
                kind = "datasets" if datasets else "models"
                files = self._files(kind, repo, revision)
                if files is not None:
                    self._resolve(files, file, state.sha(kind, repo, revision))
            else:
                self._error(404, "NotFound", f"no route for GET {path}")

    def _resolve(self, files: dict[str, bytes], path: str, sha: str) -> None:
        data = files.get(path)
        if data is None:
            self._error(404, "EntryNotFound", f"{path} not found")
            return
        etag = f'"{hashlib.sha1(data).hexdigest()}"'
        headers = {"ETag": etag, "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        ranged = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if not ranged:
            self._send(200, data, headers, "application/octet-stream")
            return
        start = int(ranged.group(1))
        end = min(int(ranged.group(2)) if ranged.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            self._send(416, b"", {**headers, "Content-Range": f"bytes */{len(data)}"})
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(206, data[start: end + 1], headers, "application/octet-stream")

    def do_POST(self) -> None:
        path = unquote(urlparse(self.path).path)
        body = self._body()
        state = self.server.state
        with state.lock:
            if path == "/api/repos/create":
                spec = json.loads(body or b"{}")
                kind = f"{spec.get('type') or 'model'}s"
                repo = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
                state.repos.setdefault((kind, repo), {"main": {}})
                if spec.get("private") or spec.get("visibility") == "private":
                    state.owners[(kind, repo)] = self.headers.get("Authorization", "").removeprefix("Bearer ")
                self._json({"url": f"http://{self.headers['Host']}/{repo}", "name": repo})
            elif match := _ACTION.match(path):
                kind, repo, action, revision = match.groups()
                files = self._files(kind, repo, revision if action != "commit" else None)
                if files is None:
                    return
                if action == "paths-info":
                    form = parse_qs(body.decode())
                    wanted = form.get("paths", [])
                    self._json([e for p in wanted if (e := _lookup(files, p.strip("/"))) is not None])
                elif action == "preupload":
                    spec = json.loads(body)
                    self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                          for f in spec.get("files", [])]})
                else:
                    self._commit(kind, repo, revision, body)
            else:
                self._error(404, "NotFound", f"no route for POST {path}")

    def _commit(self, kind: str, repo: str, revision: str, body: bytes) -> None:
        revisions = self.server.state.repos[(kind, repo)]
        files = dict(revisions.get(revision) or revisions["main"])
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            value = item.get("value", {})
            if item.get("key") == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item.get("key") == "deletedFile":
                files.pop(value["path"], None)
        revisions[revision] = files
        sha = self.server.state.sha(kind, repo, revision)
        self._json({"commitUrl": f"http://{self.headers['Host']}/{repo}/commit/{sha}", "commitOid": sha,
                    "pullRequestUrl": None})


def _lookup(files: dict[str, bytes], path: str) -> dict[str, Any] | None:
    if path in files:
        return _entry(path, files[path])
    if any(p.startswith(path + "/") for p in files):
        return _entry(path, None)
    return None


def _tree(files: dict[str, bytes], prefix: str, recursive: bool) -> list[dict[str, Any]]:
    below = {p: d for p, d in files.items() if not prefix or p.startswith(prefix + "/")}
    entries: dict[str, dict[str, Any]] = {}
    for path, data in below.items():
        rest = path[len(prefix) + 1:] if prefix else path
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(filter(None, [prefix, *parts[:depth]]))
            if recursive or depth == 1:
                entries.setdefault(directory, _entry(directory, None))
        if recursive or len(parts) == 1:
            entries[path] = _entry(path, data)
    return [entries[p] for p in sorted(entries)]


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, HubHandler)
        self.state = HubState()


def main() -> None:
    """``python tests/hf_hub_server.py PORT``: serve until killed (the tests start it as a process)."""
    import sys

    HubServer(("127.0.0.1", int(sys.argv[1]))).serve_forever()


if __name__ == "__main__":
    main()
