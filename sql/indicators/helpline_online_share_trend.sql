-- id: helpline_online_share_trend
-- title: Change in the online share of helpline contacts
-- description: For each helpline country with two consecutive years of data, how many percentage points the
--   share of contacts arriving through online channels moved from one year to the next.
-- unit: percentage_points
-- numerator: online share this year minus online share the year before
-- denominator: —
-- dimensions: country_iso3, year
-- values: value, share, previous_share
-- counts: cases, base, previous_cases, previous_base
-- computed: share = cases / base, previous_share = previous_cases / previous_base,
--   difference = share - previous_share, value = 100 * difference
-- groups: helplines_services
-- caveats: A change can come from how a helpline records channels as much as from how children reach it;
--   read it next to the helpline's own reports. Same exclusions as helpline_online_share.
-- basis: helpline_online_share
-- chart: bar country_iso3
WITH yearly AS (
    SELECT country_iso3, year, SUM(CASE WHEN online THEN contacts ELSE 0 END) AS cases, SUM(contacts) AS base,
           SUM(CASE WHEN online THEN contacts_key ELSE 0 END) AS cases_key, SUM(contacts_key) AS base_key
    FROM basis GROUP BY country_iso3, year
)
SELECT t.country_iso3, t.year, t.cases, t.base, p.cases AS previous_cases, p.base AS previous_base,
       t.cases_key, t.base_key, p.cases_key AS previous_cases_key, p.base_key AS previous_base_key
FROM yearly t
JOIN yearly p ON p.country_iso3 = t.country_iso3 AND CAST(p.year AS INTEGER) = CAST(t.year AS INTEGER) - 1
WHERE t.base > 0 AND p.base > 0
