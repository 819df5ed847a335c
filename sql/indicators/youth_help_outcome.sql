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
-- one_way: country_iso3, age_band, gender
-- sums: cases, weighted_cases
-- computed: base = cases[outcome=all], value = weighted_cases / weighted_cases[outcome=all]
-- groups: children_youth
-- caveats: The outcome is the respondent's own judgement; 'unknown' keeps those who could not say. Each
--   breakdown is one way (by country, by age band or by gender).
-- chart: bar outcome
SELECT f.source_id, f.country_iso3, f.period, f.help_outcome AS outcome, g.code AS age_band, f.gender, f.weight,
       f.record_key
FROM approved_observed_fact_youth_responses f
JOIN dim_age_band g ON f.age BETWEEN g.age_min AND g.age_max
WHERE f.sought_help AND f.help_outcome IS NOT NULL;

SELECT outcome, country_iso3, age_band, gender, COUNT(*) AS cases, SUM(weight) AS weighted_cases,
       SUM(record_key) AS cases_key
FROM basis
GROUP BY outcome, country_iso3, age_band, gender
