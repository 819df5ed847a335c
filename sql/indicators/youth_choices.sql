-- id: youth_choices
-- title: What children and young people used, whom they told, and what held them back
-- description: The multiple-choice answers of the surveyed children and young people, each question asked of its
--   own group: the online help tools used and the platforms where they sought help (of those who used online
--   help), whom they told (of those who felt scared or unsafe), and the barriers that stopped them (of those who
--   felt unsafe and did not seek help). The weighted share who gave each answer, by country, by age band and by
--   gender.
-- unit: share
-- numerator: respondents who gave the answer (weighted; cases unweighted)
-- denominator: respondents asked the question (weighted; base unweighted)
-- dimensions: question, answer, country_iso3, age_band, gender
-- margins: country_iso3, age_band, gender
-- nested: question
-- values: value
-- counts: cases, base
-- one_way: country_iso3, age_band, gender
-- sums: cases, base, weighted_cases, weighted_base
-- computed: value = weighted_cases / weighted_base
-- nonzero: cases
-- groups: children_youth
-- caveats: Several answers were allowed, so the shares of one question add up to more than 1. Platforms named in
--   free text were matched to the platform list; 'nobody' is an answer of its own; barriers were asked only of
--   those who did not seek help. Each breakdown is one way (by country, by age band or by gender).
-- chart: bar answer for each question
SELECT f.source_id, f.country_iso3, f.period, f.batch_id, f.row_number, f.record_key, f.weight,
       g.code AS age_band, f.gender,
       CASE WHEN f.used_online_help THEN 1 ELSE 0 END AS used_online_help,
       CASE WHEN f.felt_unsafe_context <> 'none' THEN 1 ELSE 0 END AS felt_unsafe,
       CASE WHEN f.felt_unsafe_context <> 'none' AND f.sought_help IS NOT NULL AND NOT f.sought_help THEN 1 ELSE 0
            END AS did_not_seek_help
FROM approved_observed_fact_youth_responses f
JOIN dim_age_band g ON f.age BETWEEN g.age_min AND g.age_max
WHERE f.used_online_help OR f.felt_unsafe_context <> 'none';

WITH questions AS (
    SELECT 'help_tools_used' AS question, 'used_online_help' AS asked_if
    UNION ALL SELECT 'platforms_named', 'used_online_help'
    UNION ALL SELECT 'told_whom', 'felt_unsafe'
    UNION ALL SELECT 'barriers', 'did_not_seek_help'
),
asked AS (
    SELECT q.question, b.batch_id, b.row_number, b.record_key, b.country_iso3, b.age_band, b.gender, b.weight
    FROM basis b
    JOIN questions q ON 1 = CASE q.asked_if WHEN 'used_online_help' THEN b.used_online_help
                                            WHEN 'felt_unsafe' THEN b.felt_unsafe ELSE b.did_not_seek_help END
),
answers AS (
    SELECT a.question, c.code AS answer, a.country_iso3, a.age_band, a.gender, a.weight, a.record_key
    FROM asked a
    JOIN approved_fact_choices c ON c.batch_id = a.batch_id AND c.row_number = a.row_number AND c.field = a.question
),
asked_cells AS (
    SELECT question, country_iso3, age_band, gender, COUNT(*) AS base, SUM(weight) AS weighted_base,
           SUM(record_key) AS base_key
    FROM asked GROUP BY question, country_iso3, age_band, gender
),
answer_cells AS (
    SELECT question, answer, country_iso3, age_band, gender, COUNT(*) AS cases, SUM(weight) AS weighted_cases,
           SUM(record_key) AS cases_key
    FROM answers GROUP BY question, answer, country_iso3, age_band, gender
),
question_answers AS (
    SELECT DISTINCT question, answer FROM answers
)
-- every answer of a question in every cell where the question was asked (zero where nobody gave it), so that
-- the bases add up along the margins
SELECT d.question, o.answer, d.country_iso3, d.age_band, d.gender, COALESCE(n.cases, 0) AS cases, d.base,
       COALESCE(n.weighted_cases, 0) AS weighted_cases, d.weighted_base, COALESCE(n.cases_key, 0) AS cases_key,
       d.base_key
FROM asked_cells d
JOIN question_answers o ON o.question = d.question
LEFT JOIN answer_cells n ON n.question = d.question AND n.answer = o.answer AND n.country_iso3 = d.country_iso3
                        AND n.age_band = d.age_band AND n.gender = d.gender
