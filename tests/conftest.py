"""What the tests share, built once per session: the repository's paths, one running server of
the page (real Gradio on 127.0.0.1 over the bundled weights), one headless Chromium (Debian's),
and the `slow` and `browser` markers (`pytest -m "not slow and not browser"` runs the quick ones), and one tiny model trained through
`pixelcnn train` that the training tests read instead of training their own."""

import shutil
from pathlib import Path

import pytest

from .browser_helpers import open_page
from .helpers import EXAMPLES, TINY, free_port, make_stripes, run_train
from .page_helpers import FastClient

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SLOW = {"test_soak.py", "test_faults.py", "test_train.py", "test_faces.py", "test_portrait.py", "test_autoencoder.py", "test_evaluate.py", "test_hub.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.path.name
        if name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
        elif name in SLOW:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def server():
    """The page on the bundled weights, as `app.py` serves it -> its URL."""
    from pixelcnn.studio import MODELS, build, launch, load_models

    models, notes = load_models(None)
    assert set(models) == set(MODELS), notes
    page = build(models, notes)
    port = free_port()
    launch(page, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    page.close()


@pytest.fixture(scope="session")
def client(server):
    """A gradio_client on the page whose drawings come as fast as possible unless a test asks for a pace."""
    return FastClient(server, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium through Playwright (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def stripes(tmp_path_factory) -> Path:
    """Two classes of 8x8 stripes, a folder per class."""
    return make_stripes(tmp_path_factory.mktemp("stripes"))


@pytest.fixture(scope="session")
def tiny_run(stripes, tmp_path_factory) -> Path:
    """A run of `pixelcnn train` on the stripes (3 epochs, tiny options) -> its folder (model/ inside)."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--epochs", "3", "--out", str(out)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    return out


@pytest.fixture
def page(browser, server):
    """A tab on the page at 1280x900, loaded."""
    page = open_page(browser, server)
    yield page
    page.close()
