-- id: provider_online_exceeds_total
-- title: A service provider's online contacts exceed its total across reports
-- description: Per organisation (by its code; shown by its name) and calendar year, across all its reports (of any source): the contacts that
--   arrived online against all contacts. Each figure is taken at the coarsest granularity the organisation
--   reports it for that year and country (a yearly figure, else the sum of half-years, quarters or months; years
--   and granularities from dim_period), the larger one when several reports give the same period; online only
--   from reports that state it; summed over the countries that have both. Row-level online > total is already
--   quarantined at ingest; this catches a yearly total below the online contacts of its half-years, say.
--   Rows of current batches (loaded, not rejected).
-- compares: contacts_online (online contacts in the year) vs contacts_total (all contacts in the year);
--   difference = contacts_online - contacts_total; relative_difference = difference / contacts_total
-- tolerance: provider_online_tolerance
-- default: 0.0
WITH reports AS (
    SELECT o.label AS org_name, f.country_iso3, f.period, f.contacts_total, f.contacts_online,
           SUBSTR(CAST(p.period_start AS VARCHAR(10)), 1, 4) AS period_year,
           CASE p.granularity WHEN 'year' THEN 1 WHEN 'half' THEN 2 WHEN 'quarter' THEN 3 ELSE 4 END AS grain
    FROM current_observed_fact_service_provider_reports f
    JOIN dim_period p ON p.period = f.period
    JOIN dim_organisation o ON o.code = f.org_name_code
    WHERE SUBSTR(CAST(p.period_start AS VARCHAR(10)), 1, 4) = SUBSTR(CAST(p.period_end AS VARCHAR(10)), 1, 4)
),
per_period AS (
    SELECT org_name, country_iso3, period_year, period, grain,
           MAX(contacts_total) AS contacts_total, MAX(contacts_online) AS contacts_online
    FROM reports
    GROUP BY org_name, country_iso3, period_year, period, grain
),
total_grain AS (
    SELECT org_name, country_iso3, period_year, MIN(grain) AS grain
    FROM per_period
    GROUP BY org_name, country_iso3, period_year
),
online_grain AS (
    SELECT org_name, country_iso3, period_year, MIN(grain) AS grain
    FROM per_period
    WHERE contacts_online IS NOT NULL
    GROUP BY org_name, country_iso3, period_year
),
totals AS (
    SELECT p.org_name, p.country_iso3, p.period_year, SUM(p.contacts_total) AS contacts_total,
           COUNT(*) AS total_periods
    FROM per_period p
    JOIN total_grain g ON g.org_name = p.org_name AND g.country_iso3 = p.country_iso3
                      AND g.period_year = p.period_year AND g.grain = p.grain
    GROUP BY p.org_name, p.country_iso3, p.period_year
),
onlines AS (
    SELECT p.org_name, p.country_iso3, p.period_year, SUM(p.contacts_online) AS contacts_online,
           COUNT(*) AS online_periods
    FROM per_period p
    JOIN online_grain g ON g.org_name = p.org_name AND g.country_iso3 = p.country_iso3
                       AND g.period_year = p.period_year AND g.grain = p.grain
    WHERE p.contacts_online IS NOT NULL
    GROUP BY p.org_name, p.country_iso3, p.period_year
),
per_org AS (
    SELECT t.org_name, t.period_year, SUM(o.contacts_online) AS contacts_online,
           SUM(t.contacts_total) AS contacts_total, COUNT(*) AS countries,
           SUM(o.online_periods) AS online_periods, SUM(t.total_periods) AS total_periods
    FROM totals t
    JOIN onlines o ON o.org_name = t.org_name AND o.country_iso3 = t.country_iso3
                  AND o.period_year = t.period_year
    GROUP BY t.org_name, t.period_year
)
SELECT org_name || ' ' || period_year AS subject, org_name, period_year AS year,
       contacts_online, contacts_total,
       contacts_online - contacts_total AS difference,
       CASE WHEN contacts_total <> 0
            THEN CAST(contacts_online - contacts_total AS DOUBLE PRECISION) / contacts_total END
            AS relative_difference,
       online_periods, total_periods, countries
FROM per_org
WHERE contacts_online > contacts_total + :provider_online_tolerance * contacts_total
ORDER BY subject
