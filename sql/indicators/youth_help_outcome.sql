-- id: youth_help_outcome
-- title: Whether the help children and young people sought helped
-- description: Of the surveyed children and young people who sought help, the weighted share for whom it
--   helped, partly helped or did not help (or who did not know), by country.
-- unit: share
-- numerator: respondents with the outcome (weighted; cases unweighted)
-- denominator: respondents who sought help and answered the question (weighted; base unweighted)
-- dimensions: outcome, country_iso3
-- margins: outcome, country_iso3
-- values: value
-- counts: cases, base
-- groups: children_youth
-- caveats: The outcome is the respondent's own judgement; 'unknown' keeps those who could not say.
-- chart: bar outcome
SELECT f.source_id, f.country_iso3, f.period, f.help_outcome AS outcome, f.weight
FROM approved_fact_youth_responses f
WHERE f.sought_help AND f.help_outcome IS NOT NULL;

WITH cells AS (
    SELECT outcome, country_iso3, SUM(weight) AS weight, COUNT(*) AS cases FROM basis GROUP BY outcome, country_iso3
),
by_outcome AS (
    SELECT outcome, country_iso3, weight, cases FROM cells
    UNION ALL
    SELECT outcome, 'all', SUM(weight), SUM(cases) FROM cells GROUP BY outcome
),
with_totals AS (
    SELECT outcome, country_iso3, weight, cases FROM by_outcome
    UNION ALL
    SELECT 'all', country_iso3, SUM(weight), SUM(cases) FROM by_outcome GROUP BY country_iso3
)
SELECT w.outcome, w.country_iso3, w.weight / t.weight AS value, w.cases, t.cases AS base
FROM with_totals w
JOIN with_totals t ON t.country_iso3 = w.country_iso3 AND t.outcome = 'all'
