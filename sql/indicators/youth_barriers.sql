-- id: youth_barriers
-- title: What stopped children and young people from seeking help
-- description: Of the surveyed children and young people who felt scared or unsafe and did not seek help, the weighted share who named each barrier (shame, fear of getting into trouble, not knowing where to go, not thinking it serious, no access, distrust), by country.
-- unit: share
-- numerator: respondents who gave the answer (weighted; cases unweighted)
-- denominator: respondents who felt unsafe and did not seek help (weighted; base unweighted)
-- dimensions: answer, country_iso3
-- margins: country_iso3
-- values: value
-- counts: cases, base
-- groups: children_youth
-- caveats: Several answers were allowed, so the shares of one country add up to more than 1. Asked only of those who did not seek help.
-- chart: bar answer
SELECT f.source_id, f.country_iso3, f.period, f.batch_id, f.row_number, f.weight
FROM approved_fact_youth_responses f
WHERE f.felt_unsafe_context <> 'none' AND f.sought_help IS NOT NULL AND NOT f.sought_help;

WITH picked AS (
    SELECT b.country_iso3, b.weight, c.code AS answer
    FROM basis b
    JOIN approved_fact_choices c ON c.batch_id = b.batch_id AND c.row_number = b.row_number AND c.field = 'barriers'
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
