-- id: helpline_online_share
-- title: Helpline contacts arriving through online channels
-- description: The share of contacts to child helplines that arrived through an online channel (web chat,
--   e-mail, messaging apps, social media, mobile apps, forums) rather than by phone, SMS or in person, by
--   country, UN M49 region and year.
-- unit: share
-- numerator: contacts through an online channel (cases)
-- denominator: contacts through any known channel (base)
-- dimensions: region, country_iso3, year
-- margins: region, country_iso3
-- nested: region
-- values: value
-- counts: cases, base
-- sums: cases, base
-- computed: value = cases / base
-- nonzero: base
-- groups: helplines_services
-- caveats: Helplines report different periods (months, quarters, half-years, years) and their number changes
--   from year to year, so totals of different years do not compare like for like. Counselling and
--   non-counselling contacts are both counted. Contacts of unknown channel and cells a helpline sends as totals
--   ('all') are left out, so nothing counts twice.
-- chart: bar country_iso3
SELECT a.source_id, a.country_iso3, a.period, SUBSTR(a.period, 1, 4) AS year,
       COALESCE(c.region, 'Unknown') AS region, ch.online, a.contacts, a.contacts_key, a.fact_rows, a.fact_keys
FROM (
    SELECT f.source_id, f.country_iso3, f.period, f.channel, SUM(f.contacts) AS contacts,
           SUM(f.contacts * f.record_key) AS contacts_key, COUNT(*) AS fact_rows, SUM(f.record_key) AS fact_keys
    FROM approved_observed_fact_helpline_contacts f
    WHERE f.channel NOT IN ('all', 'unknown') AND f.contact_type <> 'all' AND f.reason <> 'all'
      AND f.age_band <> 'all' AND f.gender <> 'all'
    GROUP BY f.source_id, f.country_iso3, f.period, f.channel
) a
JOIN dim_channel ch ON ch.code = a.channel
LEFT JOIN dim_country c ON c.iso3 = a.country_iso3;

SELECT region, country_iso3, year, SUM(CASE WHEN online THEN contacts ELSE 0 END) AS cases, SUM(contacts) AS base,
       SUM(CASE WHEN online THEN contacts_key ELSE 0 END) AS cases_key, SUM(contacts_key) AS base_key
FROM basis
GROUP BY region, country_iso3, year
