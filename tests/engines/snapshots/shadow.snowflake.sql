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
      project_id = 'p'
  ) AS ranked
  WHERE
    recency = 1
), served AS (
  SELECT
    prediction_id,
    latency_ms,
    error,
    output
  FROM predictions
  WHERE
    experiment_id = 'e' AND NOT shadow
), pairs AS (
  SELECT
    m.variant AS variant,
    s.latency_ms AS served_ms,
    m.latency_ms AS shadow_ms,
    s.error AS served_error,
    m.error AS shadow_error,
    s.output AS served_output,
    m.output AS shadow_output,
    TRY_TO_DOUBLE(s.output) AS served_number,
    TRY_TO_DOUBLE(m.output) AS shadow_number,
    l.verdict AS verdict
  FROM predictions AS m
  JOIN served AS s
    ON s.prediction_id = m.prediction_id
  LEFT JOIN latest_labels AS l
    ON l.prediction_id = m.prediction_id
  WHERE
    m.experiment_id = 'e' AND m.shadow
), scored AS (
  SELECT
    *,
    NOT served_error AND NOT shadow_error AS answered_both,
    served_number - shadow_number AS difference
  FROM pairs
)
SELECT
  variant,
  COUNT(*) AS pairs,
  SUM(CASE WHEN answered_both THEN 1 ELSE 0 END) AS answered,
  SUM(CASE WHEN answered_both AND served_output = shadow_output THEN 1 ELSE 0 END) AS agreements,
  SUM(CASE WHEN answered_both AND NOT difference IS NULL THEN 1 ELSE 0 END) AS numeric,
  SUM(CASE WHEN answered_both THEN ABS(difference) END) AS abs_diff,
  SUM(CASE WHEN answered_both THEN difference * difference END) AS abs_diff_sq,
  SUM(served_ms) AS served_latency,
  SUM(served_ms * served_ms) AS served_latency_sq,
  SUM(shadow_ms) AS shadow_latency,
  SUM(shadow_ms * shadow_ms) AS shadow_latency_sq,
  SUM(shadow_ms - served_ms) AS latency_diff,
  SUM((
    shadow_ms - served_ms
  ) * (
    shadow_ms - served_ms
  )) AS latency_diff_sq,
  SUM(CASE WHEN served_error THEN 1 ELSE 0 END) AS served_errors,
  SUM(CASE WHEN shadow_error THEN 1 ELSE 0 END) AS shadow_errors,
  SUM(CASE WHEN LEFT(verdict, 1) = 'l' THEN 1 ELSE 0 END) AS valued_labels,
  SUM(CASE WHEN verdict = 'l' || served_output THEN 1 ELSE 0 END) AS served_correct,
  SUM(CASE WHEN verdict = 'l' || shadow_output THEN 1 ELSE 0 END) AS shadow_correct
FROM scored
GROUP BY
  variant
ORDER BY
  variant
