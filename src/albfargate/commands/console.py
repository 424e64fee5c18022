"""``albfargate console``: open the running system's web console (docs/console.md) in the browser.

The URL is read from the running supervisor (``console_url`` of ``status --json``: the port may have moved
from 4590). The browser is opened with :mod:`webbrowser`; when there is none (a server, CI, SSH without a
display) the URL is printed for the user to open, and the exit code is still 0. ``--print`` only prints."""

from __future__ import annotations

import argparse
import webbrowser

from albfargate.errors import AlbfargateError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from albfargate.commands.up import state_dir_args

    p = subparsers.add_parser(
        "console",
        help="open the running system's web console in the browser",
        description="Open the web console of the running system (topology, traffic, requests, rule "
        "tester, deployments, logs) in the browser; print its URL when there is no browser.",
    )
    state_dir_args(p, positional=True)
    p.add_argument("--print", action="store_true", help="print the URL only; do not open a browser")
    p.set_defaults(func=cmd_console)


def open_url(url: str, *, browse: bool = True) -> str:
    """Open ``url`` in the browser when ``browse`` and one is there; the line to print either way."""
    if browse:
        try:
            opened = webbrowser.open(url, new=2)
        except webbrowser.Error:
            opened = False
        if opened:
            return f"albfargate: opened the console in the browser: {url}"
        return f"albfargate: no browser to open; the console is {url}"
    return url


def cmd_console(args: argparse.Namespace) -> int:
    from albfargate import supervisor
    from albfargate.commands.up import find_state_dir

    state_dir = find_state_dir(args)
    st = supervisor.call(state_dir, "GET", "/status")
    url = st.get("console_url")
    if not url:
        raise AlbfargateError(
            f"the supervisor of {state_dir} runs without the web console (started with --no-console, or it "
            f"did not start: see {state_dir / supervisor.LOG_FILE} or the output of `albfargate up`)"
        )
    print(open_url(str(url), browse=not args.print), flush=True)
    return 0
