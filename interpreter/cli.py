"""``python -m interpreter``: every piece of the system, one command each."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from interpreter.config import Settings, load_settings
from interpreter.errors import InterpreterError
from interpreter.logs import configure_logging
from interpreter.production import refuse_public_dev_keys

__all__ = ["main"]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind and connect to (INTERPRETER_HOST, 127.0.0.1)")
    p.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="INTERPRETER_LOG_LEVEL (INFO)",
    )


def _add_server_ports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", dest="livekit_port", type=int, help="HTTP/WebSocket (7880)")
    p.add_argument("--tcp-port", dest="livekit_tcp_port", type=int, help="RTC over TCP (7881)")
    p.add_argument("--udp-port", dest="livekit_udp_port", type=int, help="RTC over UDP (7882)")


def _add_worker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", dest="livekit_url", help="LiveKit server URL (LIVEKIT_URL)")
    p.add_argument(
        "--worker-port", type=int, help="worker health port (INTERPRETER_WORKER_PORT, 8081)"
    )
    p.add_argument(
        "--metrics-port", type=int, help="Prometheus metrics (INTERPRETER_METRICS_PORT, 8082)"
    )
    p.add_argument(
        "--probe-port",
        dest="worker_probe_port",
        type=int,
        help="worker /healthz and /readyz (INTERPRETER_WORKER_PROBE_PORT, 8083)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m interpreter",
        description="Live interpretation for LiveKit rooms. Settings come from flags or from "
        "the environment (INTERPRETER_*, and LIVEKIT_URL / LIVEKIT_API_KEY / "
        "LIVEKIT_API_SECRET); see README.md for the full table.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything: LiveKit server, translator worker, web app (Ctrl-C stops all)",
        description="Install the LiveKit server if needed, start it on loopback, start the "
        "translator worker and the web app, print the URLs, and stop everything on Ctrl-C or "
        "SIGTERM.",
    )
    _add_common(up)
    _add_server_ports(up)
    up.add_argument("--worker-port", type=int, help="worker health port (8081)")
    up.add_argument("--metrics-port", type=int, help="worker Prometheus metrics port (8082)")
    up.add_argument(
        "--probe-port",
        dest="worker_probe_port",
        type=int,
        help="worker /healthz and /readyz port (8083)",
    )
    up.add_argument("--web-port", type=int, help="web app port (8080)")
    up.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="LiveKit nodes sharing a Redis that up starts too (1; 2 to try multi-node: ports"
        " +10 per node, Redis on INTERPRETER_REDIS_PORT, 7879)",
    )
    up.add_argument(
        "--workers",
        type=int,
        default=1,
        help="translator workers, spread over the nodes (1; worker ports +10 per worker)",
    )
    up.add_argument(
        "--redis-port", type=int, help="Redis port for --nodes 2 or more (INTERPRETER_REDIS_PORT)"
    )

    server = sub.add_parser(
        "server",
        help="run the LiveKit server alone (installs it first if needed)",
        description="Start livekit-server on loopback with the development keys (devkey/secret) "
        "or LIVEKIT_API_KEY/LIVEKIT_API_SECRET, wait until it answers, run until Ctrl-C.",
    )
    _add_common(server)
    _add_server_ports(server)
    server.add_argument(
        "--install-only",
        action="store_true",
        help="build/cache the pinned server binary, print its path, and exit",
    )

    webapp = sub.add_parser(
        "web",
        help="run the web app alone (token service, page, transcript downloads)",
        description="Serve the web page and its API on INTERPRETER_WEB_PORT (8080).",
    )
    _add_common(webapp)
    webapp.add_argument("--port", dest="web_port", type=int, help="web app port (8080)")
    webapp.add_argument("--url", dest="livekit_url", help="LiveKit server URL (LIVEKIT_URL)")

    worker = sub.add_parser(
        "worker",
        help="run the translator worker alone against a running LiveKit server",
        description="Register with LiveKit as an agent worker; one translator job per "
        "participant who publishes audio.",
    )
    _add_common(worker)
    _add_worker_options(worker)

    invite = sub.add_parser(
        "invite",
        help="invite a human interpreter to a room: prints the link to their console",
        description="Make an interpreter's invite with the deployment's API key (no web app "
        "call): a token for ROOM with role interpreter and the language pair, valid 12 hours. "
        "Prints the console URL on the web app (the token is in its #fragment: send the link "
        "to the interpreter alone), then the identity the interpreter will have.",
    )
    _add_common(invite)
    invite.add_argument("--room", required=True, help="room name")
    invite.add_argument("--name", required=True, help="the interpreter's display name")
    invite.add_argument(
        "--languages",
        required=True,
        help="the interpreter's language pair, two codes: es,en (they hear the first by default)",
    )
    invite.add_argument(
        "--web-url",
        help="the web app as the interpreter's browser reaches it "
        "(default http://127.0.0.1:<INTERPRETER_WEB_PORT>)",
    )

    from interpreter.transcript_cli import add_transcript_parser

    _add_common(add_transcript_parser(sub))

    from interpreter.glossary_cli import add_glossary_parser

    add_glossary_parser(sub)

    from interpreter.access_cli import add_access_parser

    add_access_parser(sub)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    transcript_args = ("transcript_command", "room", "lang", "fmt", "meeting", "output", "json")
    glossary_args = ("glossary_command", "glossary_format", "file")
    access_args = ("access_command", "passcode_stdin", "access_web_url")
    invite_args = ("name", "languages", "web_url")
    skip = (
        "command",
        "install_only",
        "nodes",
        "workers",
        "older_than",
        *transcript_args,
        *glossary_args,
        *invite_args,
        *access_args,
    )
    overrides = {k: v for k, v in vars(args).items() if k not in skip}
    return load_settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    # everything runs from packaged weights: never let a library reach for a model hub
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    if args.command == "glossary" and args.glossary_command == "check":  # needs no settings
        from interpreter.glossary_cli import run_glossary

        return run_glossary(args)
    try:
        settings = _settings_from(args)
        configure_logging(settings.log_level, settings.log_format)
        if args.command in ("up", "server", "web", "worker"):
            refuse_public_dev_keys(settings)
        if args.command == "up":
            from interpreter.supervisor import run_up

            return run_up(settings, nodes=args.nodes, workers=args.workers)
        if args.command == "server":
            return _run_server(settings, install_only=args.install_only)
        if args.command == "transcript":
            from captions.store import database_url
            from interpreter.transcript_cli import run_transcript

            return run_transcript(
                args,
                db_url=database_url(db_url=settings.db_url, data_dir=settings.data_dir),
                retention_days=settings.transcript_retention_days,
            )
        if args.command == "glossary":
            from captions.store import database_url
            from interpreter.glossary_cli import run_glossary

            return run_glossary(
                args, db_url=database_url(db_url=settings.db_url, data_dir=settings.data_dir)
            )
        if args.command == "access":
            from captions.store import database_url
            from interpreter.access_cli import run_access

            return run_access(
                args,
                db_url=database_url(db_url=settings.db_url, data_dir=settings.data_dir),
                rule=settings.room_access,
                api_key=settings.api_key,
                api_secret=settings.api_secret,
            )
        if args.command == "web":
            return _run_web(settings)
        if args.command == "invite":
            return _run_invite(args, settings)
        if args.command == "worker":
            from interpreter.worker import run_worker

            run_worker(settings)
            return 0
    except InterpreterError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")


def _run_web(settings: Settings) -> int:
    from captions.store import database_url
    from web.app import WebConfig, WebConfigError, run_web

    config = WebConfig(
        host=settings.host,
        port=settings.web_port,
        ws_url=settings.ws_url,
        http_url=settings.livekit_api_url or settings.http_url,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        store_url=database_url(db_url=settings.db_url, data_dir=settings.data_dir),
        dev_keys=settings.dev_keys,
        room_access=settings.room_access,
        token_rate_limit=settings.token_rate_limit,
        booth_rate_limit=settings.booth_rate_limit,
        trust_forwarded=settings.trust_forwarded,
    )
    try:
        return run_web(config)
    except WebConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2


def _local_web_url(settings: Settings) -> str:
    """The web app on this machine, as ``python -m interpreter web`` serves it."""
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.web_port}"


def _run_invite(args: argparse.Namespace, settings: Settings) -> int:
    from web.booth import InviteError, invite_interpreter

    web_url = args.web_url or _local_web_url(settings)
    if not web_url.startswith(("http://", "https://")):
        print("error: --web-url must start with http:// or https://", file=sys.stderr)
        return 2
    try:
        invite = invite_interpreter(
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            ws_url=settings.ws_url,
            web_url=web_url,
            room=args.room,
            name=args.name,
            languages=[code.strip() for code in args.languages.split(",")],
        )
    except InviteError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    print(invite.console_url)
    print(f"identity: {invite.identity}")
    return 0


def _run_server(settings: Settings, *, install_only: bool) -> int:
    import signal
    import threading

    from interpreter.livekit_server import LiveKitServer, ensure_server_binary

    binary = ensure_server_binary(settings)
    if install_only:
        print(binary)
        return 0
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    server = LiveKitServer.from_settings(settings)
    server.start()
    print(
        f"livekit-server {settings.server_version} ready at {server.ws_url} "
        f"(API key {settings.api_key}{', development keys' if settings.dev_keys else ''}); "
        "Ctrl-C stops it",
        flush=True,
    )
    try:
        while not stopping.wait(0.5):
            code = server.poll()
            if code is not None:
                print(f"error: livekit-server exited with code {code}", file=sys.stderr)
                return 1
    finally:
        server.stop()
    return 0
