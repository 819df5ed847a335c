-- id: platform_triangulation
-- title: Platforms seen from several sides
-- description: For each platform, how often children and young people who used online help name it as a place
--   where they sought help, how many contacts helplines recorded as harm that happened there, how many service
--   provider reports name it as where the harm they saw happened, and how many reports NCMEC's CyberTipline
--   received about it.
-- unit: share
-- numerator: respondents naming the platform (weighted; cases unweighted)
-- denominator: respondents who used online help (weighted; base unweighted)
-- dimensions: platform
-- values: value
-- counts: cases, base, helpline_contacts, provider_reports
-- attributes: ncmec_reports, groups_seeing
-- computed: value = weighted_cases / weighted_base
-- groups: children_youth, helplines_services, service_providers, tech_companies
-- caveats: Helplines record the platform on cells of online-related reasons (the main one when a cell has several).
--   The four numbers answer different questions and cover different countries and years; they show
--   where the platforms matter to each group, not one rate. NCMEC counts add up every year reported.
-- chart: bar platform
SELECT f.source_id, f.country_iso3, f.period, 'children_youth' AS grp, c.code AS platform, f.weight, 1 AS amount,
       f.record_key AS amount_key, f.record_key
FROM approved_observed_fact_youth_responses f
JOIN approved_fact_choices c ON c.batch_id = f.batch_id AND c.row_number = f.row_number
     AND c.field = 'platforms_named'
WHERE f.used_online_help
UNION ALL
SELECT f.source_id, f.country_iso3, f.period, 'helplines_services', f.platform_code, 0, f.contacts,
       f.contacts * f.record_key, f.record_key
FROM approved_observed_fact_helpline_contacts f
WHERE f.platform_code IS NOT NULL AND f.contact_type <> 'all' AND f.channel <> 'all' AND f.reason <> 'all'
  AND f.age_band <> 'all' AND f.gender <> 'all'
UNION ALL
SELECT f.source_id, f.country_iso3, f.period, 'service_providers', c.code, 0, 1, f.record_key, f.record_key
FROM approved_observed_fact_service_provider_reports f
JOIN approved_fact_choices c ON c.batch_id = f.batch_id AND c.row_number = f.row_number
     AND c.field = 'platforms_seen'
UNION ALL
SELECT f.source_id, f.country_iso3, f.period, 'tech_companies', f.product_code, 0, f.value, 0, f.record_key
FROM approved_observed_fact_tech_metrics f
WHERE f.reporter = 'ncmec' AND f.metric = 'cybertipline_reports' AND f.product_code NOT IN ('all', 'other');

WITH asked AS (
    SELECT SUM(weight) AS weight, COUNT(*) AS base, SUM(record_key) AS base_key
    FROM approved_observed_fact_youth_responses WHERE used_online_help
),
per_platform AS (
    SELECT platform,
           SUM(CASE WHEN grp = 'children_youth' THEN weight ELSE 0 END) AS youth_weight,
           SUM(CASE WHEN grp = 'children_youth' THEN 1 ELSE 0 END) AS cases,
           SUM(CASE WHEN grp = 'children_youth' THEN amount_key ELSE 0 END) AS cases_key,
           SUM(CASE WHEN grp = 'helplines_services' THEN amount_key ELSE 0 END) AS helpline_contacts_key,
           SUM(CASE WHEN grp = 'service_providers' THEN amount_key ELSE 0 END) AS provider_reports_key,
           SUM(CASE WHEN grp = 'helplines_services' THEN amount ELSE 0 END) AS helpline_contacts,
           SUM(CASE WHEN grp = 'service_providers' THEN amount ELSE 0 END) AS provider_reports,
           SUM(CASE WHEN grp = 'tech_companies' THEN amount ELSE 0 END) AS ncmec_reports,
           COUNT(DISTINCT grp) AS groups_seeing
    FROM basis GROUP BY platform
)
SELECT p.platform, p.youth_weight AS weighted_cases, a.weight AS weighted_base, p.cases,
       a.base, p.helpline_contacts, p.provider_reports, p.ncmec_reports, p.groups_seeing, p.cases_key, a.base_key,
       p.helpline_contacts_key, p.provider_reports_key
FROM per_platform p CROSS JOIN asked a
WHERE p.platform NOT IN ('other', 'all')
