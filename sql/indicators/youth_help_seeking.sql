-- id: youth_help_seeking
-- title: Children and young people who sought help when they felt unsafe, and who used online help
-- description: Of the surveyed children and young people who felt scared or unsafe (online, offline or both),
--   the weighted share who sought help of any kind (measure sought_help) and the share who used an online
--   means to get help (measure used_online_help), by country, by age band and by gender.
-- unit: share
-- numerator: respondents who felt unsafe and sought help / used online help (weighted; cases unweighted)
-- denominator: respondents who felt unsafe (weighted; base unweighted)
-- dimensions: measure, country_iso3, age_band, gender
-- margins: country_iso3, age_band, gender
-- values: value
-- counts: cases, base
-- one_way: country_iso3, age_band, gender
-- sums: cases, base, weighted_cases, weighted_base
-- computed: value = weighted_cases / weighted_base
-- groups: children_youth
-- caveats: Respondents who did not answer whether they sought help are left out of that measure. Survey weights make each country's sample represent its children; the pooled line ('all') weights
--   countries by their samples' weights and is not a global estimate. Each breakdown is one way (by country, by
--   age band or by gender), never a cross-tab of individual answers.
-- chart: bar country_iso3 for each measure
SELECT f.source_id, f.country_iso3, f.period, a.code AS age_band, f.gender, f.weight, f.record_key,
       CASE WHEN f.sought_help IS NULL THEN NULL WHEN f.sought_help THEN 1 ELSE 0 END AS sought_help,
       CASE WHEN f.used_online_help THEN 1 ELSE 0 END AS used_online_help
FROM approved_observed_fact_youth_responses f
JOIN dim_age_band a ON f.age BETWEEN a.age_min AND a.age_max
WHERE f.felt_unsafe_context <> 'none';

WITH answers AS (
    SELECT 'sought_help' AS measure, country_iso3, age_band, gender, weight, record_key, sought_help AS yes
    FROM basis
    WHERE sought_help IS NOT NULL
    UNION ALL
    SELECT 'used_online_help', country_iso3, age_band, gender, weight, record_key, used_online_help FROM basis
)
SELECT measure, country_iso3, age_band, gender, SUM(yes) AS cases, COUNT(*) AS base,
       SUM(yes * weight) AS weighted_cases, SUM(weight) AS weighted_base,
       SUM(yes * record_key) AS cases_key, SUM(record_key) AS base_key
FROM answers
GROUP BY measure, country_iso3, age_band, gender
