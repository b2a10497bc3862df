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
      ROW_NUMBER() OVER (
        PARTITION BY prediction_id
        ORDER BY ts DESC NULLS LAST, received_at DESC NULLS LAST, COLLATE(event_id, 'utf8') DESC NULLS LAST
      ) AS recency
    FROM labels
    WHERE
      project_id = 'proj\'ect\\1'
  ) AS ranked
  WHERE
    recency = 1
), unit_buckets AS (
  SELECT
    unit_id,
    variant,
    bucket,
    SUM(a) AS a,
    SUM(b) AS b,
    MAX(h) AS h
  FROM (
    SELECT
      p.unit_id AS unit_id,
      p.variant AS variant,
      DATE_TRUNC('HOUR', CONVERT_TIMEZONE('UTC', p.ts)) AS bucket,
      CASE WHEN l.verdict = 'c1' OR l.verdict = 'l' || p.output THEN 1 ELSE 0 END AS a,
      CASE WHEN l.prediction_id IS NULL THEN 0 ELSE 1 END AS b,
      0 AS h
    FROM predictions AS p
    LEFT JOIN latest_labels AS l
      ON l.prediction_id = p.prediction_id
    WHERE
      p.experiment_id = 'exp\'eriment\\2' AND NOT p.shadow
  ) AS unit_rows
  GROUP BY
    unit_id,
    variant,
    bucket
), running AS (
  SELECT
    variant,
    bucket,
    a,
    b,
    ROW_NUMBER() OVER (
      PARTITION BY unit_id, variant
      ORDER BY bucket
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS k,
    SUM(a) OVER (
      PARTITION BY unit_id, variant
      ORDER BY bucket
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS ca,
    SUM(b) OVER (
      PARTITION BY unit_id, variant
      ORDER BY bucket
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS cb,
    MAX(h) OVER (
      PARTITION BY unit_id, variant
      ORDER BY bucket
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS ch,
    COALESCE(
      MAX(h) OVER (
        PARTITION BY unit_id, variant
        ORDER BY bucket
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ),
      0
    ) AS ph
  FROM unit_buckets
), valued AS (
  SELECT
    variant,
    bucket,
    k,
    ca AS y1,
    cb AS x1,
    CASE WHEN k = 1 THEN 0 ELSE (
      ca - a
    ) END AS y0,
    CASE WHEN k = 1 THEN 0 ELSE (
      cb - b
    ) END AS x0
  FROM running
)
SELECT
  bucket,
  variant,
  SUM(CASE WHEN k = 1 THEN 1 ELSE 0 END) AS new_units,
  SUM(y1 - y0) AS y,
  SUM(y1 * y1 - y0 * y0) AS yy,
  SUM(x1 - x0) AS x,
  SUM(x1 * x1 - x0 * x0) AS xx,
  SUM(x1 * y1 - x0 * y0) AS xy
FROM valued
GROUP BY
  bucket,
  variant
ORDER BY
  bucket,
  variant
