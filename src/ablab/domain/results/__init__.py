"""What an analysis finds, as values: results, comparisons, checks, verdicts, time series.

The services build these and return them; the doors (server, SDK, CLI, console) turn them
into wire schemas with ``contract``'s ``XPublic.model_validate(value)``, which reads them
field by field: each schema here shares its field names with its wire schema, so nothing
is renamed or reformatted on the way out.

- :mod:`~ablab.domain.results.comparisons`: one treatment against the control on a metric.
- :mod:`~ablab.domain.results.checks`: the sample ratio and guardrail checks.
- :mod:`~ablab.domain.results.verdicts`: the minimum-samples rule, the time, the go/no-go.
- :mod:`~ablab.domain.results.variants`: each variant's figures and bandit posterior.
- :mod:`~ablab.domain.results.segments` and :mod:`~ablab.domain.results.shadow`: the
  breakdown by a unit attribute and the shadow report.
- :mod:`~ablab.domain.results.experiment`: an experiment's whole results.
- :mod:`~ablab.domain.results.timeseries`: the cumulative series, bucket by bucket.
- :mod:`~ablab.domain.results.report`: ``ablab analyze``'s report of a file of units.
"""
