-- id: helpline_reasons
-- title: Why children contact helplines, with online harms singled out
-- description: Counselling contacts by reason, age band and gender, pooled across the helplines. Online-related
--   reasons (cyberbullying, grooming, sextortion, online sexual abuse and exploitation, ...) keep their own
--   line; other reasons are counted under their main category (violence, mental health, family, ...).
-- unit: share
-- numerator: counselling contacts for the reason (cases)
-- denominator: counselling contacts of the age band and gender, all reasons (base)
-- dimensions: reason, age_band, gender
-- margins: reason
-- values: value
-- counts: cases, base
-- sums: cases
-- computed: base = cases[reason=all], value = cases / base
-- nonzero: base
-- attributes: online_related
-- groups: helplines_services
-- caveats: Pooled across helplines and periods, so the largest helplines weigh most. Helplines classify
--   reasons in their own systems before mapping them to the shared taxonomy. Age bands are POP bands; a
--   helpline band that spans two POP bands (18-25) is counted as 'mixed'.
-- chart: bar reason where age_band=13-15, gender=girl
SELECT f.source_id, f.country_iso3, f.period,
       CASE WHEN h.online_related THEN f.reason ELSE COALESCE(h.parent, f.reason) END AS reason,
       a.pop_age_band AS age_band, f.gender, f.contacts, f.contacts * f.record_key AS contacts_key, f.record_key
FROM approved_observed_fact_helpline_contacts f
JOIN dim_harm_type h ON h.code = f.reason
JOIN dim_source_age_band a ON a.age_band = f.age_band
WHERE f.contact_type = 'counselling' AND f.reason NOT IN ('all', 'non_counselling')
  AND f.channel <> 'all' AND f.age_band <> 'all' AND f.gender <> 'all';

SELECT c.reason, c.age_band, c.gender, c.cases, c.cases_key,
       CASE WHEN h.online_related THEN 'yes' ELSE 'no' END AS online_related
FROM (SELECT reason, age_band, gender, SUM(contacts) AS cases, SUM(contacts_key) AS cases_key FROM basis
      GROUP BY reason, age_band, gender) c
LEFT JOIN dim_harm_type h ON h.code = c.reason
