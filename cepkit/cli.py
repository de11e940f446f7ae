"""The ``cepkit`` command: ``validate``, ``simulate``, ``replay``, ``report``, ``nab``, ``serve``.

The CLI is the presentation layer: it reads files and the environment, prints, and
chooses exit codes (0 fine, 1 invalid input, 2 usage errors).

>>> main(["validate", "data/rules/pack"])
data/rules/pack/01_critical_cpu.json: ok (critical_cpu, metric)
data/rules/pack/02_critical_error.json: ok (critical_error, event)
data/rules/pack/03_health_check.json: ok (health_check, schedule)
data/rules/pack/04_latency_anomaly.json: ok (latency_anomaly, anomaly)
data/rules/pack/05_escalation.json: ok (escalation, event)
5 rules valid
0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cepkit.errors import CepkitError, RuleError, RuleValidationError
from cepkit.flow import command as flow_command
from cepkit.plan import check_rule
from cepkit.rules import load_rule_files
from cepkit.simulate import simulate

__all__ = ["main"]


def _out(text: str, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _validate(paths: Sequence[str]) -> int:
    valid = invalid = 0
    for target in paths:
        try:
            documents = load_rule_files(target)
        except RuleError as exc:
            _out(f"{exc}", sys.stdout)
            invalid += 1
            continue
        for file, document in documents:
            try:
                rule = check_rule(document)
            except RuleValidationError as exc:
                invalid += 1
                name = f" ({exc.rule_name})" if exc.rule_name else ""
                _out(f"{file}: INVALID{name}")
                for problem in exc.problems:
                    _out(f"  {problem.path or '<rule>'}: {problem.message}")
            else:
                valid += 1
                _out(f"{file}: ok ({rule.rule_name}, {rule.trigger_type})")
    if invalid:
        _out(f"{invalid} invalid, {valid} valid")
        return 1
    _out(f"{valid} rules valid")
    return 0


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{what} {path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise RuleError(f"{what} {path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc


def _simulate(rule_path: str, payload_path: str | None, history_path: str | None) -> int:
    try:
        documents = load_rule_files(rule_path)
        payload = _read_json(payload_path, "payload") if payload_path else {}
        history = _read_json(history_path, "history") if history_path else None
        if len(documents) != 1:
            raise RuleError(f"{rule_path}: expected exactly one rule, found {len(documents)}")
        result = simulate(documents[0][1], payload, history=history)
    except RuleValidationError as exc:
        for problem in exc.problems:
            _out(f"{rule_path}: {problem.path or '<rule>'}: {problem.message}")
        return 1
    except (RuleError, TypeError) as exc:
        _out(str(exc))
        return 1
    _out(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0


def _replay(rule_paths: Sequence[str], data_path: str, out: str | None) -> int:
    from cepkit.replay import replay

    try:
        documents = [doc for path in rule_paths for _, doc in load_rule_files(path)]
        result = replay(documents, data_path)
    except RuleValidationError as exc:
        name = f" ({exc.rule_name})" if exc.rule_name else ""
        _out(f"invalid rule{name}:")
        for problem in exc.problems:
            _out(f"  {problem.path or '<rule>'}: {problem.message}")
        return 1
    except CepkitError as exc:
        _out(str(exc))
        return 1
    _out(result.summary.table())
    if out:
        frame = result.firings.drop(columns=["group", "values", "notes"])
        frame.to_csv(out, index=False)
        _out(f"{len(frame)} firings written to {out}")
    return 0


def _nab(nab_dir: str, detector: str, params: list[str], out: str | None) -> int:
    from cepkit.nab import load_corpus, run_detector, score_corpus, write_results
    from cepkit.nab.builtin import nab_detector, parse_params

    try:
        corpus = load_corpus(nab_dir)
        fn = nab_detector(detector, **parse_params(params))
        scores = run_detector(corpus, fn)
    except (CepkitError, ValueError) as exc:
        _out(str(exc))
        return 1
    result = score_corpus(corpus, scores)
    if out:
        written = write_results(out, corpus, scores)
        _out(f"{len(written)} result files written under {out}")
    _out(f"NAB v1.1, {len(corpus)} files, detector {detector} {' '.join(params)}".rstrip())
    for profile, score in result.summary().items():
        _out(f"  {profile:<20} {score:7.2f}")
    return 0


REPORT_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_replay_report.ipynb"


def _report(args: argparse.Namespace) -> int:
    """Execute the replay-report notebook with papermill and export HTML without code."""
    import tempfile

    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook = Path(args.notebook) if args.notebook else REPORT_NOTEBOOK
    if not notebook.exists():
        _out(f"report notebook {notebook} not found (use --notebook)")
        return 1
    parameters = {
        "rule_path": str(Path(args.rule).resolve()),
        "data_path": str(Path(args.data).resolve()),
        "labels_path": str(Path(args.labels).resolve()) if args.labels else "",
        "start": args.start,
        "end": args.end,
    }
    with tempfile.TemporaryDirectory() as work:
        executed = Path(work) / "report.ipynb"
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, cwd=work, progress_bar=False
            )
        except papermill.PapermillExecutionError as exc:
            _out(f"the report failed: {exc.ename}: {exc.evalue}")
            return 1
        exporter = HTMLExporter(exclude_input=True)  # type: ignore[no-untyped-call]
        node = nbformat.read(executed, as_version=4)  # type: ignore[no-untyped-call]
        body, _ = exporter.from_notebook_node(node)
    Path(args.out).write_text(body, encoding="utf-8")
    _out(f"report written to {args.out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and webhook URLs of Slack/Discord are secrets
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from server.app import create_app
    from server.settings import Settings

    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.db:
        overrides["db"] = args.db
    if args.pack:
        overrides["rule_pack"] = args.pack
    settings = Settings(**overrides)
    if not settings.api_keys:
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            _out(f"no API keys (CEPKIT_API_KEYS): not binding to {settings.host}")
            settings = settings.model_copy(update={"host": "127.0.0.1"})
        _out("no API keys set: serving 127.0.0.1 only, every caller is admin of 'default'")
    else:
        from server.security import parse_api_keys

        try:
            keys = parse_api_keys(settings.api_keys)
        except ValueError as exc:
            _out(f"cepkit serve: {exc}")
            return 2
        tenants = sorted({key.tenant for key in keys})
        _out(f"API keys: {len(keys)} (tenants: {', '.join(tenants)})")
    base = f"http://{settings.host}:{settings.port}"
    _out(f"cepkit serving on {base}")
    _out(f"  API docs     {base}/docs")
    _out(f"  rules        {base}/cep/rules")
    _out(f"  database     {settings.db}")
    sys.stdout.flush()
    app = create_app(settings, freeze_heap=True)  # one app for the process's life

    class Server(uvicorn.Server):
        """On SIGTERM/SIGINT the SSE streams end at once, so they never hold the
        shutdown up (uvicorn waits for open responses before the app's shutdown)."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            live = getattr(app.state, "live", None)
            if live is not None:
                live.hub.close()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,  # anything else still open is cut off then
    )
    Server(config).run()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cepkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="validate rule files or folders")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    sim = sub.add_parser("simulate", help="evaluate one rule on one payload (dry run)")
    sim.add_argument("rule", metavar="RULE.json")
    sim.add_argument("payload", nargs="?", metavar="PAYLOAD.json")
    sim.add_argument("--history", metavar="VALUES.json", help="anomaly baseline: a JSON list")
    rep = sub.add_parser("replay", help="run rules over a CSV/Parquet file; print a summary")
    rep.add_argument("rules", nargs="+", metavar="RULE.json", help="rule files or folders")
    rep.add_argument("data", metavar="DATA.csv")
    rep.add_argument("--out", metavar="FIRINGS.csv", help="write the firings here")
    nab = sub.add_parser("nab", help="score a detector on the NAB corpus (three profiles)")
    nab.add_argument("--nab-dir", required=True, help="the NAB folder (data/, labels/)")
    nab.add_argument("--detector", default="best", help="windowed_gaussian, best, zscore, ...")
    nab.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    nab.add_argument("--out", metavar="RESULTS_DIR", help="write <category>/<file>.csv here")
    rpt = sub.add_parser("report", help="replay report (papermill notebook) as HTML")
    rpt.add_argument("--rule", required=True, metavar="RULE.json")
    rpt.add_argument("--data", required=True, metavar="DATA.csv")
    rpt.add_argument("--labels", metavar="INCIDENTS.csv")
    rpt.add_argument("--start", help="ISO-8601: replay rows from here")
    rpt.add_argument("--end", help="ISO-8601: replay rows before this")
    rpt.add_argument("--out", default="report.html")
    rpt.add_argument("--notebook", help="another report notebook with the same parameters")
    serve = sub.add_parser("serve", help="run the API server on the embedded store")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", help="SQLite file or database URL (default ./cepkit.db)")
    serve.add_argument("--pack", help="folder of rule JSON to load at startup")
    flow_command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args.paths)
    if args.command == "simulate":
        return _simulate(args.rule, args.payload, args.history)
    if args.command == "replay":
        return _replay(args.rules, args.data, args.out)
    if args.command == "nab":
        return _nab(args.nab_dir, args.detector, args.param, args.out)
    if args.command == "report":
        return _report(args)
    if args.command == "flow":
        return flow_command.run(args)
    return _serve(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
