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
), units AS (
  SELECT
    window_index,
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
      CASE WHEN p.ts < TIMESTAMP('2026-11-03 00:00:00.000000', 'UTC') THEN 0 ELSE 1 END AS window_index,
      p.variant AS variant,
      p.unit_id AS unit_id,
      p.received_at AS received_at,
      p.latency_ms AS latency_ms,
      CASE WHEN p.error THEN 1 ELSE 0 END AS errors,
      CASE WHEN l.prediction_id IS NULL THEN 0 ELSE 1 END AS labelled,
      CASE WHEN l.verdict = 'c1' OR l.verdict = 'l' || p.output THEN 1 ELSE 0 END AS correct
    FROM predictions AS p
    LEFT JOIN latest_labels AS l
      ON l.prediction_id = p.prediction_id
    WHERE
      p.experiment_id = 'exp\'eriment\\2'
      AND NOT p.shadow
      AND p.ts >= TIMESTAMP('2026-11-02 00:00:00.000000', 'UTC')
      AND p.ts < TIMESTAMP('2026-11-04 00:00:00.000000', 'UTC')
  ) AS scored
  GROUP BY
    window_index,
    unit_id,
    variant
), sums AS (
  SELECT
    u.window_index AS sums_window,
    u.variant AS sums_variant,
    COUNT(*) AS units,
    SUM(u.predictions) AS predictions,
    COUNTIF(u.labelled > 0) AS units_with_labels,
    SUM(u.correct) AS accuracy__y,
    SUM(u.correct * u.correct) AS accuracy__yy,
    SUM(u.labelled) AS accuracy__x,
    SUM(u.labelled * u.labelled) AS accuracy__xx,
    SUM(u.labelled * u.correct) AS accuracy__xy,
    SUM(u.latency) AS latency_ms__y,
    SUM(u.latency * u.latency) AS latency_ms__yy,
    SUM(u.predictions) AS latency_ms__x,
    SUM(u.predictions * u.predictions) AS latency_ms__xx,
    SUM(u.predictions * u.latency) AS latency_ms__xy,
    SUM(u.errors) AS error_rate__y,
    SUM(u.errors * u.errors) AS error_rate__yy,
    SUM(u.predictions) AS error_rate__x,
    SUM(u.predictions * u.predictions) AS error_rate__xx,
    SUM(u.predictions * u.errors) AS error_rate__xy
  FROM units AS u
  GROUP BY
    1,
    2
), periods AS (
  SELECT
    window_index,
    variant,
    NULL AS segment,
    COUNT(*) AS period_0
  FROM (
    SELECT
      CASE WHEN ts < TIMESTAMP('2026-11-03 00:00:00.000000', 'UTC') THEN 0 ELSE 1 END AS window_index,
      unit_id,
      variant
    FROM exposures
    WHERE
      experiment_id = 'exp\'eriment\\2'
      AND ts >= TIMESTAMP('2026-11-02 00:00:00.000000', 'UTC')
      AND ts < TIMESTAMP('2026-11-04 00:00:00.000000', 'UTC')
    UNION DISTINCT
    SELECT
      window_index,
      unit_id,
      variant
    FROM units
  ) AS seen
  GROUP BY
    window_index,
    variant
), quantiles AS (
  SELECT
    window_index,
    variant,
    (
      SELECT
        ANY_VALUE(q)
      FROM (
        SELECT
          PERCENTILE_CONT(v, 0.95) OVER () AS q
        FROM UNNEST(ARRAY_AGG(latency_ms IGNORE NULLS)) AS v
      )
    ) AS p95
  FROM (
    SELECT
      CASE WHEN p.ts < TIMESTAMP('2026-11-03 00:00:00.000000', 'UTC') THEN 0 ELSE 1 END AS window_index,
      p.variant AS variant,
      p.latency_ms AS latency_ms
    FROM predictions AS p
    WHERE
      p.experiment_id = 'exp\'eriment\\2'
      AND NOT p.shadow
      AND p.ts >= TIMESTAMP('2026-11-02 00:00:00.000000', 'UTC')
      AND p.ts < TIMESTAMP('2026-11-04 00:00:00.000000', 'UTC')
  ) AS timed
  GROUP BY
    window_index,
    variant
)
SELECT
  n.window_index AS window_index,
  n.variant AS variant,
  n.segment AS segment,
  n.period_0 AS period_0,
  sums.sums_window AS sums_window,
  sums.sums_variant AS sums_variant,
  sums.units AS units,
  sums.predictions AS predictions,
  sums.units_with_labels AS units_with_labels,
  sums.accuracy__y AS accuracy__y,
  sums.accuracy__yy AS accuracy__yy,
  sums.accuracy__x AS accuracy__x,
  sums.accuracy__xx AS accuracy__xx,
  sums.accuracy__xy AS accuracy__xy,
  sums.latency_ms__y AS latency_ms__y,
  sums.latency_ms__yy AS latency_ms__yy,
  sums.latency_ms__x AS latency_ms__x,
  sums.latency_ms__xx AS latency_ms__xx,
  sums.latency_ms__xy AS latency_ms__xy,
  sums.error_rate__y AS error_rate__y,
  sums.error_rate__yy AS error_rate__yy,
  sums.error_rate__x AS error_rate__x,
  sums.error_rate__xx AS error_rate__xx,
  sums.error_rate__xy AS error_rate__xy,
  q.p95 AS latency_p95_ms
FROM periods AS n
LEFT JOIN sums
  ON sums.sums_window = n.window_index AND sums.sums_variant = n.variant
LEFT JOIN quantiles AS q
  ON q.window_index = n.window_index AND q.variant = n.variant
