-- id: youth_told_whom
-- title: Whom children and young people told when they felt unsafe
-- description: Of the surveyed children and young people who felt scared or unsafe, the weighted share who told each kind of person (parents, friends, teachers, helpline professionals, police, the platform) or nobody, by country.
-- unit: share
-- numerator: respondents who gave the answer (weighted; cases unweighted)
-- denominator: respondents who felt unsafe (weighted; base unweighted)
-- dimensions: answer, country_iso3
-- margins: country_iso3
-- values: value
-- counts: cases, base
-- groups: children_youth
-- caveats: Several answers were allowed, so the shares of one country add up to more than 1. 'nobody' is an answer of its own.
-- chart: bar answer
SELECT f.source_id, f.country_iso3, f.period, f.batch_id, f.row_number, f.weight
FROM approved_fact_youth_responses f
WHERE f.felt_unsafe_context <> 'none';

WITH picked AS (
    SELECT b.country_iso3, b.weight, c.code AS answer
    FROM basis b
    JOIN approved_fact_choices c ON c.batch_id = b.batch_id AND c.row_number = b.row_number AND c.field = 'told_whom'
),
asked AS (
    SELECT country_iso3, SUM(weight) AS weight, COUNT(*) AS base FROM basis GROUP BY country_iso3
    UNION ALL
    SELECT 'all', SUM(weight), COUNT(*) FROM basis
),
answered AS (
    SELECT answer, country_iso3, SUM(weight) AS weight, COUNT(*) AS cases FROM picked GROUP BY answer, country_iso3
    UNION ALL
    SELECT answer, 'all', SUM(weight), COUNT(*) FROM picked GROUP BY answer
)
SELECT n.answer, n.country_iso3, n.weight / d.weight AS value, n.cases, d.base
FROM answered n
JOIN asked d ON d.country_iso3 = n.country_iso3
