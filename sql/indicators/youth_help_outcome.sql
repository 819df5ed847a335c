-- id: youth_help_outcome
-- title: Whether the help children and young people sought helped
-- description: Of the surveyed children and young people who sought help, the weighted share for whom it
--   helped, partly helped or did not help (or who did not know), by country, by age band and by gender.
-- unit: share
-- numerator: respondents with the outcome (weighted; cases unweighted)
-- denominator: respondents who sought help and answered the question (weighted; base unweighted)
-- dimensions: outcome, country_iso3, age_band, gender
-- margins: outcome, country_iso3, age_band, gender
-- values: value
-- counts: cases, base
-- groups: children_youth
-- caveats: The outcome is the respondent's own judgement; 'unknown' keeps those who could not say. Each
--   breakdown is one way (by country, by age band or by gender).
-- chart: bar outcome
SELECT f.source_id, f.country_iso3, f.period, f.help_outcome AS outcome, g.code AS age_band, f.gender, f.weight
FROM approved_fact_youth_responses f
JOIN dim_age_band g ON f.age BETWEEN g.age_min AND g.age_max
WHERE f.sought_help AND f.help_outcome IS NOT NULL;

WITH answers AS (
    SELECT outcome, country_iso3, age_band, gender, weight FROM basis
    UNION ALL SELECT 'all', country_iso3, age_band, gender, weight FROM basis
),
breakdowns AS (
    SELECT outcome, country_iso3, 'all' AS age_band, 'all' AS gender, weight FROM answers
    UNION ALL SELECT outcome, 'all', age_band, 'all', weight FROM answers
    UNION ALL SELECT outcome, 'all', 'all', gender, weight FROM answers
    UNION ALL SELECT outcome, 'all', 'all', 'all', weight FROM answers
),
cells AS (
    SELECT outcome, country_iso3, age_band, gender, SUM(weight) AS weight, COUNT(*) AS cases
    FROM breakdowns GROUP BY outcome, country_iso3, age_band, gender
)
SELECT c.outcome, c.country_iso3, c.age_band, c.gender, c.weight / t.weight AS value, c.cases, t.cases AS base
FROM cells c
JOIN cells t ON t.outcome = 'all' AND t.country_iso3 = c.country_iso3 AND t.age_band = c.age_band
            AND t.gender = c.gender
