"""A crowd at once: N visitors press Generate together on the By class tab, at the page's defaults.

    python bench/crowd.py [--visitors 1 8 32] [--count 16] [--guidance G] [--temperature T] [--client browser|gradio] [--steps native python]

Starts `python app.py` on a free port, warms it with one drawing, then for each N sends N
simultaneous requests (MNIST, class k mod 10, 16 digits, the watchable pace, every other setting
where the page starts it: each stage's guidance and temperature as the page's /generate endpoint
gives them; `--guidance` / `--temperature` set the detail stage's instead), one burst after another
with a few seconds of quiet between. (Until 7 December 2026 the bench sent guidance 2 and
temperature 1, the page's settings when it was written: pass `--guidance 2 --temperature 1` to
compare with figures from then.) The visitors are, by default, what browsers are to the server:
every one in one asyncio loop of this process, through Gradio's HTTP API (the request, then its
event stream), each frame's two pictures fetched as they come. `--client gradio` gives each visitor
a gradio_client in a thread of its own instead (as the bench did before): thirty-two Python clients
are far heavier than thirty-two browsers, and on this machine they run on the two cores the server
has.

The whole run is made once per pixel step asked for (`--steps`: the native one, then the Python
one, PIXELCNN_NATIVE=0), each with a fresh server, so the two are compared in one run.

Per N it prints: how many were served and refused; seconds from pressing Generate to the first
frame that shows the drawing under way (a "Drawing" or "Done" status: a "Waiting" line does not
count) and to the last frame, as p50 / p95 / max; digits drawn per second (N x count over the
burst's wall time); the memory of the server and its drawing engine after the burst (their
proportional set sizes added up: what they share counts once). Targets (the issue): 8 visitors'
first frame max <= 1 s; 32 visitors' first frame p95 <= 2 s, done p95 <= 15 s, 32 of 32 served.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time

import httpx
from gradio_client import Client

from common import start_app, memory_mb, together, wait_serving

WATCHABLE = "Watchable (about 6 s)"


def inputs(k: int, args) -> list:
    """Visitor k's By class request: MNIST, class k mod 10, `--count` images, seed k, the watchable pace,
    the rest at the page's defaults (`args.defaults`) but for a `--temperature` or `--guidance` given."""
    data = list(args.defaults)
    data[:7] = ["MNIST", str(k % 10), args.count, data[3] if args.temperature is None else args.temperature, str(k),
                data[5] if args.guidance is None else args.guidance, WATCHABLE]
    return data


def page_defaults(url: str) -> list:
    """The By class tab's /generate inputs as the page starts them (the values a visitor sends who
    only picks a class and presses Generate)."""
    info = httpx.get(url + "gradio_api/info", timeout=60).json()["named_endpoints"]["/generate"]["parameters"]
    return [parameter.get("parameter_default") for parameter in info]


def settings(args) -> str:
    """The sent settings in words: each stage's guidance and temperature."""
    data = inputs(0, args)
    return (f"sketch guidance {data[7]:g}, sketch temperature {data[8]:g}, guidance {data[5]:g}, "
            f"temperature {data[3]:g}")


def visit(client: Client, k: int, args, results: list) -> None:
    sent = time.perf_counter()
    first, status = None, ""
    try:
        for output in client.submit(*inputs(k, args), api_name="/generate"):
            status = output[-1] or ""
            if first is None and status.startswith(("Drawing", "Done")):
                first = time.perf_counter() - sent
        served = status.startswith("Done")
        results.append(("served" if served else "refused", first, time.perf_counter() - sent, status[:90]))
    except Exception as err:  # a full queue, or anything else the server answered with
        results.append(("refused", None, None, str(err).splitlines()[0][:90]))


async def visit_as_browser(http: httpx.AsyncClient, k: int, args, results: list) -> None:
    """As a browser does, through Gradio's HTTP API (POST /gradio_api/call/generate, then its event
    stream): each frame's pictures fetched as they come, the next frame read once they are."""
    sent, first, status = time.perf_counter(), None, ""
    try:
        event = (await http.post("/gradio_api/call/generate", json={"data": inputs(k, args)})).json()["event_id"]
        async with http.stream("GET", f"/gradio_api/call/generate/{event}") as stream:
            kind = None
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind in ("generating", "complete", "error"):
                    output = json.loads(line[5:])
                    if kind == "error" or not isinstance(output, list):
                        status = f"error: {output}"
                        break
                    status = output[-1] or ""
                    for picture in output[:2]:  # the grid and the chart
                        if isinstance(picture, dict) and picture.get("url"):
                            (await http.get(picture["url"])).raise_for_status()
                    if first is None and status.startswith(("Drawing", "Done")):
                        first = time.perf_counter() - sent
        served = status.startswith("Done")
        results.append(("served" if served else "refused", first, time.perf_counter() - sent, status[:90]))
    except Exception as err:  # noqa: BLE001 - a full queue, or anything else the server answered with
        results.append(("refused", None, None, str(err).splitlines()[0][:90]))


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    p = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return f"{p[49]:.2f} / {p[94]:.2f} / {max(values):.2f}"


def burst(url: str, n: int, args, offset: int) -> tuple:
    results: list = []
    if args.client == "browser":
        async def everyone() -> float:
            async with httpx.AsyncClient(base_url=url, timeout=600, limits=httpx.Limits(max_connections=4 * n)) as http:
                start = time.perf_counter()
                await asyncio.gather(*[visit_as_browser(http, offset + k, args, results) for k in range(n)])
                return time.perf_counter() - start

        return results, asyncio.run(everyone())
    # Over plain HTTP to 127.0.0.1 there is no certificate to check, but gradio_client loads the CA
    # bundle for every request it makes unless told not to (httpx: 19 ms of CPU each, on the two
    # cores the server needs: 32 visitors' clients took both cores for a second and more of the burst).
    clients = [Client(url, verbose=False, download_files=False, ssl_verify=not args.load_certificates) for _ in range(n)]
    wall = together(visit, [(c, offset + k, args, results) for k, c in enumerate(clients)])
    return results, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--count", type=int, default=16, help="digits per visitor (default: 16, the page's)")
    parser.add_argument("--guidance", type=float, help="the detail stage's guidance (default: the page's)")
    parser.add_argument("--temperature", type=float, help="the detail stage's temperature (default: the page's)")
    parser.add_argument("--threads", type=int, help="the server's torch threads (default: app.py's)")
    parser.add_argument("--log", help="write the server's log (the engine's batches) to this file")
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds between bursts (default: 3)")
    parser.add_argument("--client", choices=("browser", "gradio"), default="browser",
                        help="browser (default): every visitor in one asyncio loop, through Gradio's HTTP API, fetching each frame's "
                             "pictures as a browser does; gradio: a gradio_client each, in threads (heavier on the cores the server "
                             "shares: a bench that ran 32 Python clients there held the server back)")
    parser.add_argument("--load-certificates", action="store_true",
                        help="let each client load the CA certificates for every request, as gradio_client does by default (the "
                             "bench's figures before the engine had its own process were measured so)")
    parser.add_argument("--steps", nargs="+", choices=("native", "python"), default=["native", "python"],
                        help="the pixel steps to run the whole bench with, one server each (default: both)")
    args = parser.parse_args()
    log = open(args.log, "w") if args.log else subprocess.DEVNULL
    header = True
    for step in args.steps:
        os.environ["PIXELCNN_NATIVE"] = "1" if step == "native" else "0"  # the server and its engine inherit it
        proc, url, _ = start_app("pixelcnn-crowd-", ["--threads", str(args.threads)] if args.threads else [], log)
        try:
            wait_serving(url, proc)
            args.defaults = page_defaults(url)
            if header:
                print(f"MNIST by class, {args.count} digits a visitor, {settings(args)}, watchable pace; p50 / p95 / max in seconds\n")
                print("| pixel step | visitors at once | served | first frame | drawing done | digits/s | memory (MB) |")
                print("|---|---|---|---|---|---|---|")
                header = False
            burst(url, 1, args, 0)  # warm-up
            for n in args.visitors:
                time.sleep(args.quiet)
                results, wall = burst(url, n, args, 1000 * n)
                served = [r for r in results if r[0] == "served"]
                firsts = [r[1] for r in served if r[1] is not None]
                print(f"| {step} | {n} | {len(served)} of {n} | {spread(firsts)} | {spread([r[2] for r in served])} | "
                      f"{len(served) * args.count / wall:.1f} | {memory_mb(proc.pid):.0f} |", flush=True)
                for reason in sorted({r[3] for r in results if r[0] == "refused"}):
                    print(f"|  |  | not served: {reason} |")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
