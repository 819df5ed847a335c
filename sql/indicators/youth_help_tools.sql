-- id: youth_help_tools
-- title: Online help tools children and young people used
-- description: Of the surveyed children and young people who used an online means to get help, the weighted share who used each tool (helpline chat or app, reporting or blocking on the platform, messaging apps, peers on social media, search, chatbots, online counselling, youth-led platforms), by country.
-- unit: share
-- numerator: respondents who gave the answer (weighted; cases unweighted)
-- denominator: respondents who used online help (weighted; base unweighted)
-- dimensions: answer, country_iso3
-- margins: country_iso3
-- values: value
-- counts: cases, base
-- groups: children_youth
-- caveats: Several answers were allowed, so the shares of one country add up to more than 1. The list of tools offered differs slightly between survey rounds.
-- chart: bar answer
SELECT f.source_id, f.country_iso3, f.period, f.batch_id, f.row_number, f.weight
FROM approved_fact_youth_responses f
WHERE f.used_online_help;

WITH picked AS (
    SELECT b.country_iso3, b.weight, c.code AS answer
    FROM basis b
    JOIN approved_fact_choices c ON c.batch_id = b.batch_id AND c.row_number = b.row_number AND c.field = 'help_tools_used'
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
