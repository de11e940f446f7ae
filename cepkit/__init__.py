"""cepkit: a complex-event-processing workbench you can drive from a notebook.

Rules are frozen pydantic models of the guide's rule JSON (:mod:`cepkit.rules`);
conditions compile once into fast functions with an explain trace
(:mod:`cepkit.conditions`); :func:`simulate` evaluates a rule on one payload without
running any action; :func:`run` (and :class:`~cepkit.engine.RuleRuntime` per rule) turns
a stream of events into :class:`~cepkit.firing.Firing` s over windows, aggregations and
anomaly baselines. Importing cepkit connects to nothing and reads no environment.

>>> import cepkit
>>> rule = cepkit.parse_rule({
...     "rule_name": "cpu_high_alert",
...     "trigger_type": "metric",
...     "trigger_spec": {"metric_name": "cpu_usage", "operator": ">", "threshold": 85},
... })
>>> cepkit.simulate(rule, {"cpu_usage": 92, "host": "gt-01"}).matched
True
"""

from cepkit.conditions import compile_condition
from cepkit.engine import Engine, RuleRuntime, run
from cepkit.errors import CepkitError, EvaluationError, RuleError, RuleValidationError
from cepkit.firing import Firing
from cepkit.rules import Rule, load_rule_files, parse_rule, rule_json_schema
from cepkit.simulate import SimulationResult, simulate

__version__ = "0.1.0"

__all__ = [
    "CepkitError",
    "Engine",
    "EvaluationError",
    "Firing",
    "Rule",
    "RuleError",
    "RuleRuntime",
    "RuleValidationError",
    "SimulationResult",
    "compile_condition",
    "load_rule_files",
    "parse_rule",
    "rule_json_schema",
    "run",
    "simulate",
]
