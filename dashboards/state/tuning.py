"""The tuning dashboard's state (``/cep-tuning``, guide Lab 13): sweep, budget, promote.

Choose a rule of the server and a data file (``data/samples``) with its labelled
incidents; :meth:`TuningState.run_sweep` sweeps every threshold of a few settings of
z-score, IQR and EMA (:func:`cepkit.tuning.sweep`, the rule's other parameters pinned;
a metric rule sweeps its own threshold; the rules that can be swept are the ones
:func:`cepkit.tuning.from_rule` accepts); :meth:`TuningState.choose` takes the best recall
within the alert budget (:func:`cepkit.tuning.alert_budget`); the tuned rule
(:func:`cepkit.tuning.tuned_rule`) is replayed (:func:`cepkit.replay.replay`, the engine)
to check it fires where the sweep counted alerts, and :meth:`TuningState.promote` sends
it to the server as a new version of the rule (``PUT /cep/rules/{id}``). The plotly
figures are built here; no Panel import.

>>> parse_grid("60, 240"), parse_grid("")
([60.0, 240.0], [])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import param
import plotly.express as px  # type: ignore[import-untyped]
import plotly.graph_objects as go  # type: ignore[import-untyped]

from cepkit.client import Client
from cepkit.errors import CepkitError
from cepkit.replay import load_data, replay
from cepkit.rules import parse_rule
from cepkit.store import METADATA_KEYS
from cepkit.tuning import Incidents, alert_budget, from_rule, setting_label, sweep, tuned_rule

__all__ = ["METHODS", "TuningState", "parse_grid"]

METHODS = ("zscore", "iqr", "ema")
#: the detector parameters a setting may vary, per method
GRID_PARAMETERS = {"zscore": ("window",), "iqr": ("window", "multiplier"), "ema": ("alpha",)}
_INTEGER = ("window", "min_baseline")


def parse_grid(text: str) -> list[float]:
    """``"60, 240"`` -> ``[60.0, 240.0]`` (ValueError naming the bad item)."""
    values = []
    for part in text.split(","):
        if part.strip():
            try:
                values.append(float(part))
            except ValueError:
                raise ValueError(f"not a number: {part.strip()!r}") from None
    return values


def _plain(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule's document without the store's metadata (``rule_id``, ``version``...)."""
    return {k: v for k, v in document.items() if k not in METADATA_KEYS}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _files(folder: Path, *suffixes: str) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in suffixes)


class TuningState(param.Parameterized):
    """Everything ``/cep-tuning`` shows."""

    client = param.ClassSelector(class_=Client, allow_None=True, default=None)
    data_dir = param.String(default="", doc="the folder of data files (default: data/samples)")
    data_file: param.Selector[str] = param.Selector(default="", objects=[""])
    labels_file: param.Selector[str] = param.Selector(default="", objects=[""])
    kinds = param.ListSelector(default=[], objects=[], doc="incident kinds that count")
    rules = param.Dict(default={}, doc="'name (type)' -> rule_id of the tunable rules")
    rule_id: param.Selector[str] = param.Selector(default="", objects=[""])
    methods = param.ListSelector(default=list(METHODS), objects=list(METHODS))
    window_grid = param.String(default="60, 240")
    multiplier_grid = param.String(default="1.5")
    alpha_grid = param.String(default="0.05, 0.2")
    threshold_min = param.Number(default=0.5)
    threshold_max = param.Number(default=40.0)
    threshold_steps = param.Integer(default=80, bounds=(2, 1000))
    group_column = param.String(default="host")
    budget = param.Number(default=5.0, bounds=(0, None), doc="alerts per day the on-call accepts")
    result = param.DataFrame(default=None, allow_None=True, doc="the sweep, one row per setting")
    choice = param.Dict(default=None, allow_None=True, doc="the chosen sweep row")
    tuned = param.Dict(default=None, allow_None=True, doc="the tuned rule document")
    check = param.Dict(default=None, allow_None=True, doc="sweep alerts vs replay firings")
    promoted = param.Dict(default=None, allow_None=True, doc="rule_id and the new version")
    message = param.String(default="")
    error = param.String(default="")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]
        self._documents: dict[str, dict[str, Any]] = {}
        self._frames: dict[str, pd.DataFrame] = {}
        self._firings: pd.DataFrame | None = None
        self.scan()

    # -- inputs ----------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """Where the data files are: ``data_dir``, else ``data/samples`` of the working
        directory, else the repository's."""
        if self.data_dir:
            return Path(self.data_dir)
        here = Path("data") / "samples"
        return here if here.is_dir() else Path(__file__).resolve().parents[2] / "data" / "samples"

    def scan(self) -> None:
        """List the data and label files of :attr:`folder`."""
        files = _files(self.folder, ".csv", ".parquet", ".pq")
        labels = [f for f in files if "incident" in f or "label" in f]
        data = [f for f in files if f not in labels]
        self.param.data_file.objects = data or [""]
        self.param.labels_file.objects = ["", *labels]
        self.data_file = data[0] if data else ""
        self.labels_file = labels[0] if labels else ""
        self._kinds()

    def _kinds(self) -> None:
        kinds: list[str] = []
        if self.labels_file:
            frame = pd.read_csv(self.folder / self.labels_file)
            if "kind" in frame.columns:
                kinds = sorted(str(k) for k in frame["kind"].dropna().unique())
        self.param.kinds.objects = kinds
        self.kinds = list(kinds)

    @param.depends("labels_file", watch=True)
    def _labels_changed(self) -> None:
        self._kinds()

    def _api(self) -> Client:
        if self.client is None:
            raise CepkitError("the tuning dashboard has no server client")
        client: Client = self.client
        return client

    def _fail(self, exc: Exception) -> None:
        self.param.update(message="", error=str(exc))

    def refresh_rules(self) -> None:
        """The server's rules that can be swept: anomaly rules and metric rules."""
        try:
            stored = self._api().rules()
        except CepkitError as exc:
            self._fail(exc)
            return
        self._documents = {}
        names: dict[str, str] = {}
        for rule in stored:
            document = rule.model_dump(mode="json")
            try:
                from_rule(_plain(document))
            except (CepkitError, ValueError):
                continue  # not a rule a sweep can tune
            names[f"{rule.rule_name} ({document['trigger_type']})"] = rule.rule_id
            self._documents[rule.rule_id] = document
        self.param.rule_id.objects = ["", *names.values()]
        self.rules = names
        if self.rule_id not in names.values():
            self.rule_id = next(iter(names.values()), "")

    @property
    def document(self) -> dict[str, Any]:
        """The chosen rule's stored document."""
        if not self.rule_id:
            raise CepkitError("choose a rule to tune")
        return self._documents[self.rule_id]

    @property
    def is_anomaly(self) -> bool:
        """Whether the chosen rule is an anomaly rule (else a metric threshold)."""
        return bool(self.document["trigger_type"] == "anomaly")

    @property
    def value_column(self) -> str:
        """The column the rule judges (its ``value_path`` or ``metric_name``)."""
        return from_rule(_plain(self.document))[1]

    def frame(self) -> pd.DataFrame:
        """The chosen data file (read once)."""
        if not self.data_file:
            raise CepkitError(f"no data file in {self.folder}")
        if self.data_file not in self._frames:
            self._frames[self.data_file] = load_data(self.folder / self.data_file)
        return self._frames[self.data_file]

    def incidents(self) -> Incidents | None:
        """The labelled incidents of the chosen kinds (None without a labels file)."""
        if not self.labels_file:
            return None
        frame = pd.read_csv(self.folder / self.labels_file)
        if "kind" in frame.columns:
            frame = frame[frame["kind"].isin(self.kinds)]
        group = self.group_column if self.group_column in frame.columns else "host"
        return Incidents.from_frame(frame, group=group)

    # -- sweep, choice, replay, promote ----------------------------------------------------

    def _grids(self) -> dict[str, dict[str, list[Any]]]:
        texts = {"window": self.window_grid, "multiplier": self.multiplier_grid}
        texts["alpha"] = self.alpha_grid
        grids: dict[str, dict[str, list[Any]]] = {}
        for method in self.methods:
            grid: dict[str, list[Any]] = {}
            for name in GRID_PARAMETERS[method]:
                try:
                    values = parse_grid(texts[name])
                except ValueError as exc:
                    raise CepkitError(f"{name}_grid: {exc}") from None
                if values:
                    grid[name] = [int(v) for v in values] if name in _INTEGER else values
            grids[method] = grid
        return grids

    def run_sweep(self) -> None:
        """Sweep the chosen rule over the data; the rule's other parameters stay pinned."""
        try:
            frame, labels = self.frame(), self.incidents()
            group = self.group_column if self.group_column in frame.columns else None
            cuts = np.linspace(self.threshold_min, self.threshold_max, self.threshold_steps)
            base = _plain(self.document)
            parts = []
            if self.is_anomaly:
                if not self.methods:
                    raise CepkitError("methods: choose at least one of zscore, iqr, ema")
                for method, grid in self._grids().items():
                    spec = {**base["trigger_spec"], "anomaly_method": method}
                    variant = {**base, "trigger_spec": spec}
                    parts.append(
                        sweep(frame, variant, grid, thresholds=cuts, group=group, labels=labels)
                    )
            else:
                parts.append(sweep(frame, base, thresholds=cuts, group=group, labels=labels))
        except (CepkitError, ValueError, KeyError) as exc:
            self._fail(exc)
            return
        result = pd.concat(parts, ignore_index=True)
        result["setting"] = [setting_label(r) for r in _records(result)]
        self.param.update(result=result, choice=None, tuned=None, check=None, promoted=None)
        self.param.update(error="", message=f"{len(result)} settings swept.")
        self.choose()

    def choose(self) -> None:
        """The best recall within the budget (then precision, then fewest alerts)."""
        if self.result is None or self.result.empty:
            return
        try:
            row = alert_budget(self.result, self.budget)
        except ValueError as exc:
            self.param.update(choice=None, tuned=None, check=None)
            self._fail(exc)
            return
        chosen: dict[str, Any] = {}
        for key, value in row.items():
            plain = value.item() if isinstance(value, np.generic) else value
            chosen[str(key)] = None if isinstance(plain, float) and math.isnan(plain) else plain
        try:
            group = self.group_column if self.group_column in self.frame().columns else None
            tuned = tuned_rule(_plain(self.document), chosen, group)
            parse_rule(tuned)  # the one model judges the tuned rule
            replayed = replay([tuned], self.frame())
        except (CepkitError, ValueError) as exc:
            self.param.update(choice=None, tuned=None, check=None)
            self._fail(exc)
            return
        self._firings = replayed.firings
        firings = replayed.summary.rules[tuned["rule_name"]].firings
        self.param.update(
            choice=chosen,
            tuned=tuned,
            check={"sweep_alerts": int(chosen["alerts"]), "replay_firings": firings},
            error="",
        )

    @param.depends("budget", watch=True)
    def _budget_changed(self) -> None:
        self.choose()

    def promote(self) -> None:
        """The tuned rule as a new version of the chosen rule (``PUT /cep/rules/{id}``)."""
        if self.tuned is None:
            self._fail(CepkitError("run a sweep and choose a setting first"))
            return
        try:
            stored = self._api().update_rule(self.rule_id, self.tuned)
        except CepkitError as exc:
            self._fail(exc)
            return
        self.promoted = {"rule_id": stored.rule_id, "version": stored.version}
        self.param.update(error="", message=f"Promoted as version {stored.version}.")
        self.refresh_rules()

    # -- figures -----------------------------------------------------------------------------

    def curve_figure(self) -> go.Figure:
        """Alerts per day against recall, one line per setting; the budget dotted."""
        if self.result is None or self.result.empty or "recall" not in self.result:
            return go.Figure().update_layout(title="run a sweep with labels to see the curves")
        data = self.result.sort_values(["setting", "threshold"])
        figure = px.line(
            data,
            x="alerts_per_day",
            y="recall",
            color="setting",
            facet_col="method",
            log_x=True,
            markers=True,
            hover_data=["threshold", "precision", "f1"],
            title="alerts/day vs recall",
        )
        figure.add_vline(x=max(self.budget, 1e-3), line_dash="dot")
        return figure.update_layout(height=380)

    def series_figure(self, group: Any = None) -> go.Figure:
        """One group's series, the tuned rule's firings (replayed) and the incidents."""
        figure = go.Figure()
        if self.choice is None or self._firings is None:
            return figure.update_layout(title="choose a setting to see its detections")
        frame = self.frame()
        column, key = self.value_column, self.group_column
        if key in frame.columns:
            group = group if group is not None else frame[key].iloc[0]
            frame = frame[frame[key] == group]
        times = pd.to_datetime(frame["timestamp"], utc=True)
        figure.add_scatter(x=times, y=frame[column], name=column, line={"width": 1})
        firings = self._firings
        if f"group.{key}" in firings.columns and group is not None:
            firings = firings[firings[f"group.{key}"] == group]
        hits = frame.set_index(times)[column].reindex(firings["event_time"])
        figure.add_scatter(
            x=firings["event_time"],
            y=hits.to_numpy(),
            mode="markers",
            name="detections",
            marker={"color": "red", "symbol": "x", "size": 9},
        )
        for incident in self.incidents() or ():
            if incident.group in (None, group):
                figure.add_vrect(
                    x0=pd.Timestamp(incident.start, unit="s", tz="UTC"),
                    x1=pd.Timestamp(incident.end, unit="s", tz="UTC"),
                    fillcolor="orange",
                    opacity=0.25,
                    line_width=0,
                )
        title = f"{group}: {column} and the tuned rule's detections" if group else column
        return figure.update_layout(height=380, title=title)
