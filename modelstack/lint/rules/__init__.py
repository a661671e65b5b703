"""The lint rules, in one explicit registry (each provider adds its own, `Provider.lint_rules`).

Rule ids encode the area; severity is each rule's own (see the README table):

| ids    | area                                                      |
|--------|-----------------------------------------------------------|
| MS0xx  | the file itself: YAML (MS000) and schema (MS001)          |
| MS1xx  | the model artifact (MS110-MS129: pre/post-processing)     |
| MS2xx  | smoke tests                                               |
| MS3xx  | AWS Lambda targets (`modelstack/providers/aws_lambda/`)   |
| MS4xx  | Cloud Run targets (`modelstack/providers/gcp_cloud_run/`) |
| MS5xx  | security                                                  |
| MS6xx  | rollout                                                   |
| MS7xx  | evaluation: data sets, metrics and gates                  |
| MS8xx  | traffic profiles (the cost model)                         |
| MS91x  | routing: tiers, rules, splits (`modelstack/routing/lint/`) |
| MS93x  | events: queues, buckets, schedules (`modelstack/events/`) |
| MS96x  | monitoring: reference data, window, thresholds            |
"""

from __future__ import annotations

from modelstack.events.lint import event_rules
from modelstack.lint.rule import Rule
from modelstack.lint.rules.errors.parse import ParseError
from modelstack.lint.rules.errors.schema import SchemaViolation
from modelstack.lint.rules.evaluation.metrics import GateNames, MetricFitsTask
from modelstack.lint.rules.evaluation.names import EvaluationNames
from modelstack.lint.rules.evaluation.paths import EvaluationPaths
from modelstack.lint.rules.evaluation.sha256 import EvaluationSha256
from modelstack.lint.rules.model.external_data import ExternalData
from modelstack.lint.rules.model.loads import ModelLoads
from modelstack.lint.rules.model.path import ModelPath
from modelstack.lint.rules.model.sha256 import ModelSha256
from modelstack.lint.rules.model.signature import DeclaredSignature
from modelstack.lint.rules.processing.fits import StepsFitModelInput
from modelstack.lint.rules.processing.labels import LabelMapFits
from modelstack.lint.rules.processing.raw_files import RawInputFile
from modelstack.lint.rules.rollout.steps import RolloutSteps
from modelstack.lint.rules.security.pinning import BaseImagePinned
from modelstack.lint.rules.security.secrets import SecretValue
from modelstack.lint.rules.smoke.inputs import SmokeInputs
from modelstack.lint.rules.smoke.inputs_file import SmokeInputsFile
from modelstack.lint.rules.smoke.outputs import SmokeOutputs
from modelstack.lint.rules.traffic.profile import TrafficCounts, TrafficSource
from modelstack.monitor.rules import MONITORING_RULES
from modelstack.providers import PROVIDERS
from modelstack.routing.lint import ROUTING_RULES

__all__ = ["ALL_RULES", "RULES_BY_ID"]

ALL_RULES: tuple[type[Rule], ...] = (
    ParseError,
    SchemaViolation,
    ModelPath,
    ModelSha256,
    ModelLoads,
    ExternalData,
    DeclaredSignature,
    StepsFitModelInput,
    LabelMapFits,
    RawInputFile,
    SmokeInputs,
    SmokeOutputs,
    SmokeInputsFile,
    *(rule for provider in PROVIDERS.values() for rule in provider.lint_rules()),
    SecretValue,
    BaseImagePinned,
    RolloutSteps,
    EvaluationPaths,
    EvaluationSha256,
    EvaluationNames,
    GateNames,
    MetricFitsTask,
    TrafficSource,
    TrafficCounts,
    *event_rules(),
    *MONITORING_RULES,
    *ROUTING_RULES,
)

RULES_BY_ID: dict[str, type[Rule]] = {rule.id: rule for rule in ALL_RULES}
