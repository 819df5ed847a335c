-- id: reporter_agreement
-- title: A company and NCMEC disagree on the same yearly count
-- description: The same quantity from two reporters: the company's own count (reporter 'company', e.g. its
--   reports to NCMEC) and NCMEC's count of what it received from that company (reporter 'ncmec'), for the same
--   company, product (or 'all'), metric and calendar year. Each reporter's year is its yearly figure when it
--   sent one, else the sum of its half-years, else of its quarters, else of its months (years and granularities
--   from dim_period; periods spanning two years are left out). Counts only; rows of current batches.
-- compares: company_value (the company's own count) vs ncmec_value (NCMEC's count);
--   difference = company_value - ncmec_value; relative_difference = difference / ncmec_value
-- tolerance: reporter_tolerance
-- default: 0.05
WITH cells AS (
    SELECT f.company_code, f.product_code, f.metric, f.reporter, f.value,
           SUBSTR(CAST(p.period_start AS VARCHAR(10)), 1, 4) AS period_year,
           CASE p.granularity WHEN 'year' THEN 1 WHEN 'half' THEN 2 WHEN 'quarter' THEN 3 ELSE 4 END AS grain
    FROM current_observed_fact_tech_metrics f
    JOIN dim_period p ON p.period = f.period
    WHERE f.unit = 'count' AND f.reporter IN ('company', 'ncmec')
      AND SUBSTR(CAST(p.period_start AS VARCHAR(10)), 1, 4) = SUBSTR(CAST(p.period_end AS VARCHAR(10)), 1, 4)
),
coarsest AS (
    SELECT company_code, product_code, metric, reporter, period_year, MIN(grain) AS grain
    FROM cells
    GROUP BY company_code, product_code, metric, reporter, period_year
),
yearly AS (
    SELECT c.company_code, c.product_code, c.metric, c.reporter, c.period_year,
           SUM(c.value) AS value, COUNT(*) AS periods
    FROM cells c
    JOIN coarsest k ON k.company_code = c.company_code AND k.product_code = c.product_code
                   AND k.metric = c.metric AND k.reporter = c.reporter AND k.period_year = c.period_year
                   AND k.grain = c.grain
    GROUP BY c.company_code, c.product_code, c.metric, c.reporter, c.period_year
),
paired AS (
    SELECT own.company_code, own.product_code, own.metric, own.period_year,
           own.value AS company_value, nc.value AS ncmec_value,
           own.periods AS company_periods, nc.periods AS ncmec_periods
    FROM yearly own
    JOIN yearly nc ON nc.company_code = own.company_code AND nc.product_code = own.product_code
                  AND nc.metric = own.metric AND nc.period_year = own.period_year AND nc.reporter = 'ncmec'
    WHERE own.reporter = 'company'
)
SELECT company_code || ' ' || product_code || ' ' || metric || ' ' || period_year AS subject,
       company_code AS company, product_code AS product, metric, period_year AS year,
       company_value, ncmec_value,
       company_value - ncmec_value AS difference,
       CASE WHEN ncmec_value <> 0 THEN (company_value - ncmec_value) / ncmec_value END AS relative_difference,
       company_periods, ncmec_periods
FROM paired
WHERE ABS(company_value - ncmec_value) > :reporter_tolerance * ABS(ncmec_value)
ORDER BY subject
