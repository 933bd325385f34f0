"""Weights on the Hugging Face Hub: publish a saved model, fetch one, fail fast when offline.

A Hub location is `org/repo` or `org/repo/subfolder`: the app's models live in one repo as
`mnist/`, `fashion-mnist/`, ... beside each other, the same layout as `assets/`.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

MODEL_FILES = ("config.json", "model.safetensors")


class HubUnavailable(RuntimeError):
    """The Hub could not give us the files; the message says why in one sentence."""


def split_location(location: str) -> tuple[str, str]:
    """'org/repo/sub/folder' -> ('org/repo', 'sub/folder'); 'org/repo' -> ('org/repo', '')."""
    parts = location.strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"a Hub location is org/repo or org/repo/subfolder, got {location!r}.")
    return "/".join(parts[:2]), "/".join(parts[2:])


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def reachable(url: str, timeout: float = 2.0) -> bool:
    """Can we open a TCP connection to the endpoint? (A closed network answers in milliseconds;
    without this check each file would wait on the library's own, much longer, timeouts.)"""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch(location: str, revision: str | None = None) -> Path:
    """Download (or reuse from the local Hub cache) a saved model's files -> its local folder."""
    repo, subfolder = split_location(location)
    online = os.environ.get("HF_HUB_OFFLINE") != "1" and reachable(endpoint())
    paths = []
    for name in MODEL_FILES:
        try:
            paths.append(
                hf_hub_download(repo, name, subfolder=subfolder or None, revision=revision, local_files_only=not online, endpoint=endpoint())
            )
        except LocalEntryNotFoundError:
            raise HubUnavailable(f"the Hub at {endpoint()} cannot be reached and {location} is not in the local cache.") from None
        except (HfHubHTTPError, OSError) as err:
            raise HubUnavailable(f"could not download {name} of {location}: {str(err).splitlines()[0]}") from None
    return Path(paths[0]).parent


def push_folder(folder: Path, location: str) -> str:
    """Upload a save_pretrained folder (with its model card and samples) -> the commit URL."""
    repo, subfolder = split_location(location)
    api = HfApi()
    api.create_repo(repo, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, path_in_repo=subfolder or None, commit_message=f"Upload {subfolder or repo}")
    return str(info)
