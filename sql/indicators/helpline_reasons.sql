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
-- attributes: online_related
-- groups: helplines_services
-- caveats: Pooled across helplines and periods, so the largest helplines weigh most. Helplines classify
--   reasons in their own systems before mapping them to the shared taxonomy. Age bands are POP bands; a
--   helpline band that spans two POP bands (18-25) is counted as 'mixed'.
-- chart: bar reason where age_band=13-15, gender=girl
SELECT f.source_id, f.country_iso3, f.period,
       CASE WHEN h.online_related THEN f.reason ELSE COALESCE(h.parent, f.reason) END AS reason,
       a.pop_age_band AS age_band, f.gender, f.contacts
FROM approved_fact_helpline_contacts f
JOIN dim_harm_type h ON h.code = f.reason
JOIN dim_source_age_band a ON a.age_band = f.age_band
WHERE f.contact_type = 'counselling' AND f.reason NOT IN ('all', 'non_counselling')
  AND f.channel <> 'all' AND f.age_band <> 'all' AND f.gender <> 'all';

WITH cells AS (
    SELECT reason, age_band, gender, SUM(contacts) AS cases FROM basis GROUP BY reason, age_band, gender
),
totals AS (
    SELECT age_band, gender, SUM(cases) AS base FROM cells GROUP BY age_band, gender
),
with_totals AS (
    SELECT reason, age_band, gender, cases FROM cells
    UNION ALL
    SELECT 'all', age_band, gender, base FROM totals
)
SELECT w.reason, w.age_band, w.gender, CAST(w.cases AS DOUBLE PRECISION) / t.base AS value, w.cases, t.base,
       CASE WHEN w.reason = 'all' THEN NULL WHEN h.online_related THEN 'yes' ELSE 'no' END AS online_related
FROM with_totals w
JOIN totals t ON t.age_band = w.age_band AND t.gender = w.gender
LEFT JOIN dim_harm_type h ON h.code = w.reason
WHERE t.base > 0
