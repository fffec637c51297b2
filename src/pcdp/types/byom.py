"""byom instances: a packaged scikit-learn model scored into one typed predictive attribute.

The instance keys, the package format and the safety rules are in pcdp.byom; this module
registers the runner (the validator is in pcdp.types.validation). Inputs:
`customer_features`, and for `level: account` `accounts` (stg_raw__accounts) and
`customer_identifiers`.
"""

from __future__ import annotations

from pcdp.byom.instance import score_instance
from pcdp.instances import InstanceSpec
from pcdp.runtime import InstanceResult, RunContext, register_runner


def run(spec: InstanceSpec, context: RunContext) -> InstanceResult:
    relations = {"customer_features": context.relation("customer_features")}
    if spec.params["level"] == "account":
        relations["accounts"] = context.relation("accounts")
        relations["customer_identifiers"] = context.relation("customer_identifiers")
    predictions, metrics = score_instance(spec.params, context.con, relations)
    return InstanceResult(predictions=predictions, metrics=metrics)


register_runner("byom", run)
