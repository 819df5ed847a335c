-- id: tech_reports_actions
-- title: Tech companies: reports and enforcement actions on child sexual exploitation and abuse
-- description: What companies report about their own platforms (content and accounts actioned, underage
--   accounts removed, safety tools), and the reports to NCMEC's CyberTipline, both as the company counts them
--   and as NCMEC or a regulator counts them, by company, product and year.
-- unit: count
-- numerator: the metric's count, added up over the periods of the year
-- denominator: —
-- dimensions: company, product, reporter, metric, year
-- values: value
-- counts: none
-- disclosure: counts of reports, items and accounts that companies and regulators publish about whole
--   platforms, not counts of a small group of children
-- attributes: periods_reported
-- groups: tech_companies
-- caveats: Companies publish quarterly or half-yearly and round their figures; a year adds up the periods
--   reported (periods_reported says how many). A company's own count and NCMEC's count of the same reports
--   often differ; both are shown. Percentages (such as proactive rates) are not added up and are left out, and
--   so are the rows a source marks as its own total of the products it also lists (they would count twice).
-- chart: none
SELECT f.source_id, f.country_iso3, f.period, SUBSTR(f.period, 1, 4) AS year, f.company_code, f.product_code,
       f.reporter, f.metric, f.value
FROM approved_observed_fact_tech_metrics f
WHERE f.unit = 'count' AND NOT f.is_total_row;

SELECT company_code AS company, product_code AS product, reporter, metric, year, SUM(value) AS value,
       COUNT(DISTINCT period) AS periods_reported
FROM basis
GROUP BY company_code, product_code, reporter, metric, year
