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
-- groups: children_youth
-- caveats: Several answers were allowed, so the shares of one question add up to more than 1. Platforms named in
--   free text were matched to the platform list; 'nobody' is an answer of its own; barriers were asked only of
--   those who did not seek help. Each breakdown is one way (by country, by age band or by gender).
-- chart: bar answer for each question
SELECT f.source_id, f.country_iso3, f.period, f.batch_id, f.row_number, f.weight, g.code AS age_band, f.gender,
       CASE WHEN f.used_online_help THEN 1 ELSE 0 END AS used_online_help,
       CASE WHEN f.felt_unsafe_context <> 'none' THEN 1 ELSE 0 END AS felt_unsafe,
       CASE WHEN f.felt_unsafe_context <> 'none' AND f.sought_help IS NOT NULL AND NOT f.sought_help THEN 1 ELSE 0
            END AS did_not_seek_help
FROM approved_fact_youth_responses f
JOIN dim_age_band g ON f.age BETWEEN g.age_min AND g.age_max
WHERE f.used_online_help OR f.felt_unsafe_context <> 'none';

WITH questions AS (
    SELECT 'help_tools_used' AS question, 'used_online_help' AS asked_if
    UNION ALL SELECT 'platforms_named', 'used_online_help'
    UNION ALL SELECT 'told_whom', 'felt_unsafe'
    UNION ALL SELECT 'barriers', 'did_not_seek_help'
),
asked AS (
    SELECT q.question, b.batch_id, b.row_number, b.country_iso3, b.age_band, b.gender, b.weight
    FROM basis b
    JOIN questions q ON 1 = CASE q.asked_if WHEN 'used_online_help' THEN b.used_online_help
                                            WHEN 'felt_unsafe' THEN b.felt_unsafe ELSE b.did_not_seek_help END
),
answers AS (
    SELECT a.question, c.code AS answer, a.country_iso3, a.age_band, a.gender, a.weight
    FROM asked a
    JOIN approved_fact_choices c ON c.batch_id = a.batch_id AND c.row_number = a.row_number AND c.field = a.question
),
asked_by AS (
    SELECT question, country_iso3, 'all' AS age_band, 'all' AS gender, weight FROM asked
    UNION ALL SELECT question, 'all', age_band, 'all', weight FROM asked
    UNION ALL SELECT question, 'all', 'all', gender, weight FROM asked
    UNION ALL SELECT question, 'all', 'all', 'all', weight FROM asked
),
answers_by AS (
    SELECT question, answer, country_iso3, 'all' AS age_band, 'all' AS gender, weight FROM answers
    UNION ALL SELECT question, answer, 'all', age_band, 'all', weight FROM answers
    UNION ALL SELECT question, answer, 'all', 'all', gender, weight FROM answers
    UNION ALL SELECT question, answer, 'all', 'all', 'all', weight FROM answers
),
denominators AS (
    SELECT question, country_iso3, age_band, gender, SUM(weight) AS weight, COUNT(*) AS base
    FROM asked_by GROUP BY question, country_iso3, age_band, gender
),
numerators AS (
    SELECT question, answer, country_iso3, age_band, gender, SUM(weight) AS weight, COUNT(*) AS cases
    FROM answers_by GROUP BY question, answer, country_iso3, age_band, gender
)
SELECT n.question, n.answer, n.country_iso3, n.age_band, n.gender, n.weight / d.weight AS value, n.cases, d.base
FROM numerators n
JOIN denominators d ON d.question = n.question AND d.country_iso3 = n.country_iso3 AND d.age_band = n.age_band
                   AND d.gender = n.gender
