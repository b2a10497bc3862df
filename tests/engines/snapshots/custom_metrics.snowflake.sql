WITH seen AS (
  SELECT
    unit_id,
    variant,
    MIN(ts) AS first_ts
  FROM (
    SELECT
      unit_id,
      variant,
      ts
    FROM exposures
    WHERE
      experiment_id = 'exp\'eriment\\2'
    UNION ALL
    SELECT
      unit_id,
      variant,
      ts
    FROM predictions
    WHERE
      experiment_id = 'exp\'eriment\\2' AND NOT shadow
  ) AS seen_events
  GROUP BY
    unit_id,
    variant
), definitions AS (
  SELECT
    *
  FROM (VALUES
    ('revenue', 'sum', FALSE),
    ('basket', 'mean', FALSE),
    ('clicks', 'count', FALSE),
    ('converted', 'any', TRUE)) AS d(name, aggregation, proportion)
), named_events AS (
  SELECT
    unit_id,
    name,
    experiment_id,
    ts,
    value
  FROM metrics
  WHERE
    project_id = 'proj\'ect\\1'
    AND name IN ('revenue', 'basket', 'clicks', 'converted')
), per_unit AS (
  SELECT
    s.unit_id AS unit_id,
    s.variant AS variant,
    d.name AS name,
    d.aggregation AS aggregation,
    d.proportion AS proportion,
    COALESCE(
      SUM(
        IFF(
          (
            (
              e.experiment_id = 'exp\'eriment\\2'
              OR (
                e.experiment_id IS NULL AND e.ts >= s.first_ts
              )
            )
          ),
          e.value,
          NULL
        )
      ),
      0
    ) AS total,
    COUNT(
      IFF(
        (
          (
            e.experiment_id = 'exp\'eriment\\2'
            OR (
              e.experiment_id IS NULL AND e.ts >= s.first_ts
            )
          )
        ),
        e.value,
        NULL
      )
    ) AS events,
    COALESCE(
      MAX(
        IFF(
          (
            (
              e.experiment_id = 'exp\'eriment\\2'
              OR (
                e.experiment_id IS NULL AND e.ts >= s.first_ts
              )
            )
          ),
          CASE WHEN e.value <> 0 THEN 1 ELSE 0 END,
          NULL
        )
      ),
      0
    ) AS hit
  FROM seen AS s
  CROSS JOIN definitions AS d
  LEFT JOIN named_events AS e
    ON e.unit_id = s.unit_id AND e.name = d.name
  GROUP BY
    s.unit_id,
    s.variant,
    d.name,
    d.aggregation,
    d.proportion
), covariates AS (
  SELECT
    unit_id,
    AVG(value) AS value
  FROM metrics
  WHERE
    project_id = 'proj\'ect\\1' AND name = 'revenue'
  GROUP BY
    unit_id
)
SELECT
  d.variant AS variant,
  NULL AS segment,
  d.name AS metric,
  COUNT(*) AS units,
  SUM(
    CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END
  ) AS m__y,
  SUM(
    CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END * CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END
  ) AS m__yy,
  SUM(
    CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END
  ) AS m__x,
  SUM(
    CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END * CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END
  ) AS m__xx,
  SUM(
    CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END * CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END
  ) AS m__xy,
  SUM(COALESCE(c.value, 0)) AS m__u,
  SUM(COALESCE(c.value, 0) * COALESCE(c.value, 0)) AS m__uu,
  SUM(1) AS m__v,
  SUM(1 * 1) AS m__vv,
  SUM(COALESCE(c.value, 0) * 1) AS m__uv,
  SUM(
    CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END * COALESCE(c.value, 0)
  ) AS m__yu,
  SUM(
    CASE
      WHEN d.proportion
      THEN CASE
        WHEN CASE d.aggregation
          WHEN 'sum'
          THEN CAST(d.total AS DOUBLE)
          WHEN 'count'
          THEN CAST(d.events AS DOUBLE)
          WHEN 'any'
          THEN CAST(d.hit AS DOUBLE)
          ELSE CAST(d.total AS DOUBLE)
        END > 0
        THEN 1
        ELSE 0
      END
      ELSE CASE d.aggregation
        WHEN 'sum'
        THEN CAST(d.total AS DOUBLE)
        WHEN 'count'
        THEN CAST(d.events AS DOUBLE)
        WHEN 'any'
        THEN CAST(d.hit AS DOUBLE)
        ELSE CAST(d.total AS DOUBLE)
      END
    END * 1
  ) AS m__yv,
  SUM(
    CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END * COALESCE(c.value, 0)
  ) AS m__xu,
  SUM(
    CASE
      WHEN d.aggregation = 'mean' AND NOT d.proportion
      THEN CAST(d.events AS DOUBLE)
      ELSE 1
    END * 1
  ) AS m__xv
FROM per_unit AS d
LEFT JOIN covariates AS c
  ON c.unit_id = d.unit_id
GROUP BY
  d.variant,
  d.name
