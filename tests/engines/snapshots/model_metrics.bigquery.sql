WITH latest_labels AS (
  SELECT
    prediction_id,
    verdict
  FROM (
    SELECT
      prediction_id,
      CASE
        WHEN NOT correct IS NULL
        THEN CASE WHEN correct THEN 'c1' ELSE 'c0' END
        ELSE 'l' || label
      END AS verdict,
      ROW_NUMBER() OVER (PARTITION BY prediction_id ORDER BY ts DESC, received_at DESC, event_id DESC) AS recency
    FROM labels
    WHERE
      project_id = 'proj\'ect\\1'
  ) AS ranked
  WHERE
    recency = 1
), totals AS (
  SELECT
    is_prior,
    unit_id,
    variant,
    COUNT(*) AS predictions,
    SUM(latency_ms) AS latency,
    SUM(errors) AS errors,
    SUM(labelled) AS labelled,
    SUM(correct) AS correct,
    MIN(received_at) AS first_received
  FROM (
    SELECT
      p.is_prior AS is_prior,
      p.variant AS variant,
      p.unit_id AS unit_id,
      p.received_at AS received_at,
      p.latency_ms AS latency_ms,
      CASE WHEN p.error THEN 1 ELSE 0 END AS errors,
      CASE WHEN l.prediction_id IS NULL THEN 0 ELSE 1 END AS labelled,
      CASE WHEN l.verdict = 'c1' OR l.verdict = 'l' || p.output THEN 1 ELSE 0 END AS correct
    FROM (
      SELECT
        0 AS is_prior,
        variant,
        unit_id,
        prediction_id,
        received_at,
        latency_ms,
        error,
        output
      FROM predictions
      WHERE
        experiment_id = 'exp\'eriment\\2' AND NOT shadow
      UNION ALL
      SELECT
        1 AS is_prior,
        NULL AS variant,
        unit_id,
        prediction_id,
        received_at,
        latency_ms,
        error,
        output
      FROM predictions
      WHERE
        experiment_id IN ('prior "one"')
        AND NOT shadow
        AND ts >= TIMESTAMP('2026-11-01 00:00:00.000000', 'UTC')
        AND ts < TIMESTAMP('2026-11-02 00:00:00.000000', 'UTC')
    ) AS p
    LEFT JOIN latest_labels AS l
      ON l.prediction_id = p.prediction_id
  ) AS scored
  GROUP BY
    is_prior,
    unit_id,
    variant
), units AS (
  SELECT
    unit_id,
    variant,
    predictions,
    latency,
    errors,
    labelled,
    correct,
    first_received
  FROM totals
  WHERE
    is_prior = 0
), prior AS (
  SELECT
    unit_id,
    predictions,
    latency,
    errors,
    labelled,
    correct,
    first_received
  FROM totals
  WHERE
    is_prior = 1
), segments AS (
  SELECT
    unit_id,
    segment
  FROM (
    SELECT
      unit_id,
      JSON_VALUE(attributes, '$.region') AS segment,
      ROW_NUMBER() OVER (
        PARTITION BY unit_id
        ORDER BY ts NULLS LAST, JSON_VALUE(attributes, '$.region') NULLS LAST
      ) AS rank_in_unit
    FROM exposures
    WHERE
      experiment_id = 'exp\'eriment\\2'
      AND NOT JSON_VALUE(attributes, '$.region') IS NULL
  ) AS ranked
  WHERE
    rank_in_unit = 1
), sums AS (
  SELECT
    u.variant AS sums_variant,
    COALESCE(s.segment, '(none)') AS sums_segment,
    COUNT(*) AS units,
    SUM(u.predictions) AS predictions,
    COUNTIF(u.labelled > 0) AS units_with_labels,
    SUM(u.correct) AS accuracy__y,
    SUM(u.correct * u.correct) AS accuracy__yy,
    SUM(u.labelled) AS accuracy__x,
    SUM(u.labelled * u.labelled) AS accuracy__xx,
    SUM(u.labelled * u.correct) AS accuracy__xy,
    SUM(COALESCE(c.correct, 0)) AS accuracy__u,
    SUM(COALESCE(c.correct, 0) * COALESCE(c.correct, 0)) AS accuracy__uu,
    SUM(COALESCE(c.labelled, 0)) AS accuracy__v,
    SUM(COALESCE(c.labelled, 0) * COALESCE(c.labelled, 0)) AS accuracy__vv,
    SUM(COALESCE(c.correct, 0) * COALESCE(c.labelled, 0)) AS accuracy__uv,
    SUM(u.correct * COALESCE(c.correct, 0)) AS accuracy__yu,
    SUM(u.correct * COALESCE(c.labelled, 0)) AS accuracy__yv,
    SUM(u.labelled * COALESCE(c.correct, 0)) AS accuracy__xu,
    SUM(u.labelled * COALESCE(c.labelled, 0)) AS accuracy__xv,
    SUM(u.latency) AS latency_ms__y,
    SUM(u.latency * u.latency) AS latency_ms__yy,
    SUM(u.predictions) AS latency_ms__x,
    SUM(u.predictions * u.predictions) AS latency_ms__xx,
    SUM(u.predictions * u.latency) AS latency_ms__xy,
    SUM(COALESCE(c.latency, 0)) AS latency_ms__u,
    SUM(COALESCE(c.latency, 0) * COALESCE(c.latency, 0)) AS latency_ms__uu,
    SUM(COALESCE(c.predictions, 0)) AS latency_ms__v,
    SUM(COALESCE(c.predictions, 0) * COALESCE(c.predictions, 0)) AS latency_ms__vv,
    SUM(COALESCE(c.latency, 0) * COALESCE(c.predictions, 0)) AS latency_ms__uv,
    SUM(u.latency * COALESCE(c.latency, 0)) AS latency_ms__yu,
    SUM(u.latency * COALESCE(c.predictions, 0)) AS latency_ms__yv,
    SUM(u.predictions * COALESCE(c.latency, 0)) AS latency_ms__xu,
    SUM(u.predictions * COALESCE(c.predictions, 0)) AS latency_ms__xv,
    SUM(u.errors) AS error_rate__y,
    SUM(u.errors * u.errors) AS error_rate__yy,
    SUM(u.predictions) AS error_rate__x,
    SUM(u.predictions * u.predictions) AS error_rate__xx,
    SUM(u.predictions * u.errors) AS error_rate__xy,
    SUM(COALESCE(c.errors, 0)) AS error_rate__u,
    SUM(COALESCE(c.errors, 0) * COALESCE(c.errors, 0)) AS error_rate__uu,
    SUM(COALESCE(c.predictions, 0)) AS error_rate__v,
    SUM(COALESCE(c.predictions, 0) * COALESCE(c.predictions, 0)) AS error_rate__vv,
    SUM(COALESCE(c.errors, 0) * COALESCE(c.predictions, 0)) AS error_rate__uv,
    SUM(u.errors * COALESCE(c.errors, 0)) AS error_rate__yu,
    SUM(u.errors * COALESCE(c.predictions, 0)) AS error_rate__yv,
    SUM(u.predictions * COALESCE(c.errors, 0)) AS error_rate__xu,
    SUM(u.predictions * COALESCE(c.predictions, 0)) AS error_rate__xv
  FROM units AS u
  LEFT JOIN segments AS s
    ON s.unit_id = u.unit_id
  LEFT JOIN prior AS c
    ON c.unit_id = u.unit_id
  GROUP BY
    1,
    2
), seen AS (
  SELECT
    unit_id,
    variant,
    MIN(first_received) AS first_received
  FROM (
    SELECT
      unit_id,
      variant,
      received_at AS first_received
    FROM exposures
    WHERE
      experiment_id = 'exp\'eriment\\2'
    UNION ALL
    SELECT
      unit_id,
      variant,
      first_received
    FROM units
  ) AS sightings
  GROUP BY
    unit_id,
    variant
), periods AS (
  SELECT
    n.variant AS variant,
    COALESCE(s.segment, '(none)') AS segment,
    COUNT(*) AS period_0
  FROM seen AS n
  LEFT JOIN segments AS s
    ON s.unit_id = n.unit_id
  GROUP BY
    1,
    2
), quantiles AS (
  SELECT
    p.variant AS variant,
    COALESCE(s.segment, '(none)') AS segment,
    (
      SELECT
        ANY_VALUE(q)
      FROM (
        SELECT
          PERCENTILE_CONT(v, 0.95) OVER () AS q
        FROM UNNEST(ARRAY_AGG(p.latency_ms IGNORE NULLS)) AS v
      )
    ) AS p95
  FROM predictions AS p
  LEFT JOIN segments AS s
    ON s.unit_id = p.unit_id
  WHERE
    p.experiment_id = 'exp\'eriment\\2' AND NOT p.shadow
  GROUP BY
    1,
    2
)
SELECT
  n.variant AS variant,
  n.segment AS segment,
  n.period_0 AS period_0,
  sums.sums_variant AS sums_variant,
  sums.sums_segment AS sums_segment,
  sums.units AS units,
  sums.predictions AS predictions,
  sums.units_with_labels AS units_with_labels,
  sums.accuracy__y AS accuracy__y,
  sums.accuracy__yy AS accuracy__yy,
  sums.accuracy__x AS accuracy__x,
  sums.accuracy__xx AS accuracy__xx,
  sums.accuracy__xy AS accuracy__xy,
  sums.accuracy__u AS accuracy__u,
  sums.accuracy__uu AS accuracy__uu,
  sums.accuracy__v AS accuracy__v,
  sums.accuracy__vv AS accuracy__vv,
  sums.accuracy__uv AS accuracy__uv,
  sums.accuracy__yu AS accuracy__yu,
  sums.accuracy__yv AS accuracy__yv,
  sums.accuracy__xu AS accuracy__xu,
  sums.accuracy__xv AS accuracy__xv,
  sums.latency_ms__y AS latency_ms__y,
  sums.latency_ms__yy AS latency_ms__yy,
  sums.latency_ms__x AS latency_ms__x,
  sums.latency_ms__xx AS latency_ms__xx,
  sums.latency_ms__xy AS latency_ms__xy,
  sums.latency_ms__u AS latency_ms__u,
  sums.latency_ms__uu AS latency_ms__uu,
  sums.latency_ms__v AS latency_ms__v,
  sums.latency_ms__vv AS latency_ms__vv,
  sums.latency_ms__uv AS latency_ms__uv,
  sums.latency_ms__yu AS latency_ms__yu,
  sums.latency_ms__yv AS latency_ms__yv,
  sums.latency_ms__xu AS latency_ms__xu,
  sums.latency_ms__xv AS latency_ms__xv,
  sums.error_rate__y AS error_rate__y,
  sums.error_rate__yy AS error_rate__yy,
  sums.error_rate__x AS error_rate__x,
  sums.error_rate__xx AS error_rate__xx,
  sums.error_rate__xy AS error_rate__xy,
  sums.error_rate__u AS error_rate__u,
  sums.error_rate__uu AS error_rate__uu,
  sums.error_rate__v AS error_rate__v,
  sums.error_rate__vv AS error_rate__vv,
  sums.error_rate__uv AS error_rate__uv,
  sums.error_rate__yu AS error_rate__yu,
  sums.error_rate__yv AS error_rate__yv,
  sums.error_rate__xu AS error_rate__xu,
  sums.error_rate__xv AS error_rate__xv,
  q.p95 AS latency_p95_ms
FROM periods AS n
LEFT JOIN sums
  ON sums.sums_variant = n.variant
  AND COALESCE(sums.sums_segment, '') = COALESCE(n.segment, '')
LEFT JOIN quantiles AS q
  ON q.variant = n.variant AND COALESCE(q.segment, '') = COALESCE(n.segment, '')
