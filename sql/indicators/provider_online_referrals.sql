-- id: provider_online_referrals
-- title: Service providers: contacts arriving online, and referrals in and out
-- description: For the organisations that protect children (helplines, hotlines, social services, referral
--   services, law enforcement, health services, NGOs), the share of their contacts that arrived through online
--   channels, and the cases referred to them and by them, by type of provider and year.
-- unit: share
-- numerator: contacts that arrived online (cases)
-- denominator: all contacts of the reports that give both numbers (base)
-- dimensions: org_type, year
-- margins: org_type
-- values: value
-- counts: cases, base, referrals_in, referrals_out, reports
-- contributors: reports
-- sums: cases, base, referrals_in, referrals_out, reports
-- computed: value = cases / base
-- groups: service_providers
-- caveats: Providers define a contact, an online contact and a referral in their own ways; half-year reports
--   are added up into their year, so a year with one half-year report covers half a year. Reports without the
--   online count are left out of the share but kept for referrals.
-- chart: bar org_type
SELECT f.source_id, f.country_iso3, f.period, SUBSTR(f.period, 1, 4) AS year, f.org_type, f.contacts_total,
       f.contacts_online, f.referrals_in, f.referrals_out, f.record_key
FROM approved_observed_fact_service_provider_reports f;

SELECT org_type, year,
       SUM(CASE WHEN contacts_online IS NOT NULL THEN contacts_online ELSE 0 END) AS cases,
       SUM(CASE WHEN contacts_online IS NOT NULL THEN contacts_total ELSE 0 END) AS base,
       SUM(referrals_in) AS referrals_in, SUM(referrals_out) AS referrals_out, COUNT(*) AS reports,
       SUM(CASE WHEN contacts_online IS NOT NULL THEN contacts_online * record_key ELSE 0 END) AS cases_key,
       SUM(CASE WHEN contacts_online IS NOT NULL THEN contacts_total * record_key ELSE 0 END) AS base_key,
       SUM(referrals_in * record_key) AS referrals_in_key, SUM(referrals_out * record_key) AS referrals_out_key,
       SUM(record_key) AS reports_key
FROM basis
GROUP BY org_type, year
