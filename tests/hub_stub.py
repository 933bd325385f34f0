"""A small stand-in for the Hugging Face Hub on 127.0.0.1, enough for `hf_hub_download`.

It answers HEAD and GET on /{org}/{repo}/resolve/{revision}/{path} from a folder laid out as
root/{org}/{repo}/{path}, with the headers the client reads (Content-Length, ETag,
X-Repo-Commit); and the three calls `HfApi.upload_folder` makes for small files (create the
repo, pre-upload, commit as NDJSON), writing what is committed into that folder. It records
the requests it served.
"""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubStub:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _file(self):
                parts = unquote(urlparse(self.path).path).strip("/").split("/")
                stub.requests.append((self.command, "/".join(parts)))
                if len(parts) < 5 or parts[2] != "resolve":
                    return None
                path = stub.root / parts[0] / parts[1] / "/".join(parts[4:])
                return path if path.is_file() else None

            def _headers(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()

            def do_HEAD(self):
                path = self._file()
                if path is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._headers(path.read_bytes())

            def _json(self, payload, status=200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                parts = unquote(urlparse(self.path).path).strip("/").split("/")
                stub.requests.append(("POST", "/".join(parts)))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if parts[:3] == ["api", "repos", "create"]:
                    name = json.loads(body)
                    repo = f"{name.get('organization') or ''}/{name['name']}".lstrip("/") if "/" not in name["name"] else name["name"]
                    return self._json({"url": f"{stub.url}/{repo}", "name": repo})
                if parts[:2] == ["api", "validate-yaml"]:
                    return self._json({"errors": [], "warnings": []})
                if parts[:2] == ["api", "models"] and parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
                if parts[:2] == ["api", "models"] and parts[4] == "commit":
                    repo_dir = stub.root / parts[2] / parts[3]
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            target = repo_dir / item["value"]["path"]
                            target.parent.mkdir(parents=True, exist_ok=True)
                            target.write_bytes(base64.b64decode(item["value"]["content"]))
                    return self._json({"commitUrl": f"{stub.url}/{parts[2]}/{parts[3]}/commit/{COMMIT}", "commitOid": COMMIT})
                return self._json({"error": "not in the stand-in"}, 404)

            def do_GET(self):
                path = self._file()
                if path is None:
                    self.do_HEAD()
                    return
                body = path.read_bytes()
                self._headers(body)
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
