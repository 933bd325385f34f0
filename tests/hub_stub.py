"""A small stand-in for the Hugging Face Hub on 127.0.0.1, enough for `hf_hub_download`.

It answers HEAD and GET on /{org}/{repo}/resolve/{revision}/{path} from a folder laid out as
root/{org}/{repo}/{path}, with the headers the client reads (Content-Length, ETag,
X-Repo-Commit), and counts the requests it served.
"""

import hashlib
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
