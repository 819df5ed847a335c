-- id: helpline_total_vs_breakdown
-- title: A helpline's total differs from the sum of its breakdown
-- description: A total cell a helpline source sends ('all' in contact_type, channel, reason or gender) against
--   the sum of the same source's breakdown cells along that dimension: the cells that differ from the total
--   only there, with a specific code (not 'all'), for the same period, country and age band. Along reason, a
--   parent code sent next to its own sub-codes is left out so nothing counts twice. Only where the source sends
--   both the total and its breakdown; rows of current batches (loaded, not rejected).
-- compares: total_contacts (the total cell) vs breakdown_sum (sum of breakdown_cells cells along breakdown);
--   difference = breakdown_sum - total_contacts; relative_difference = difference / total_contacts
-- tolerance: helpline_total_tolerance
-- default: 0.01
WITH cells AS (
    SELECT f.source_id, f.period, f.country_iso3, f.contact_type, f.channel, f.reason, f.age_band, f.gender,
           f.contacts
    FROM current_observed_fact_helpline_contacts f
),
reason_cells AS (
    SELECT c.* FROM cells c
    WHERE c.reason <> 'all' AND NOT EXISTS (
        SELECT 1 FROM cells s JOIN dim_harm_type h ON h.code = s.reason
        WHERE h.parent = c.reason AND s.source_id = c.source_id AND s.period = c.period
          AND s.country_iso3 = c.country_iso3 AND s.contact_type = c.contact_type AND s.channel = c.channel
          AND s.age_band = c.age_band AND s.gender = c.gender)
),
compared AS (
    SELECT 'contact_type' AS breakdown, t.source_id, t.period, t.country_iso3, t.contact_type, t.channel,
           t.reason, t.age_band, t.gender, t.contacts AS total_contacts,
           SUM(p.contacts) AS breakdown_sum, COUNT(*) AS breakdown_cells
    FROM cells t
    JOIN cells p ON p.source_id = t.source_id AND p.period = t.period AND p.country_iso3 = t.country_iso3
                AND p.age_band = t.age_band AND p.channel = t.channel AND p.reason = t.reason
                AND p.gender = t.gender AND p.contact_type <> 'all'
    WHERE t.contact_type = 'all'
    GROUP BY t.source_id, t.period, t.country_iso3, t.contact_type, t.channel, t.reason, t.age_band, t.gender,
             t.contacts
    UNION ALL
    SELECT 'channel', t.source_id, t.period, t.country_iso3, t.contact_type, t.channel,
           t.reason, t.age_band, t.gender, t.contacts, SUM(p.contacts), COUNT(*)
    FROM cells t
    JOIN cells p ON p.source_id = t.source_id AND p.period = t.period AND p.country_iso3 = t.country_iso3
                AND p.age_band = t.age_band AND p.contact_type = t.contact_type AND p.reason = t.reason
                AND p.gender = t.gender AND p.channel <> 'all'
    WHERE t.channel = 'all'
    GROUP BY t.source_id, t.period, t.country_iso3, t.contact_type, t.channel, t.reason, t.age_band, t.gender,
             t.contacts
    UNION ALL
    SELECT 'reason', t.source_id, t.period, t.country_iso3, t.contact_type, t.channel,
           t.reason, t.age_band, t.gender, t.contacts, SUM(p.contacts), COUNT(*)
    FROM cells t
    JOIN reason_cells p ON p.source_id = t.source_id AND p.period = t.period AND p.country_iso3 = t.country_iso3
                       AND p.age_band = t.age_band AND p.contact_type = t.contact_type
                       AND p.channel = t.channel AND p.gender = t.gender
    WHERE t.reason = 'all'
    GROUP BY t.source_id, t.period, t.country_iso3, t.contact_type, t.channel, t.reason, t.age_band, t.gender,
             t.contacts
    UNION ALL
    SELECT 'gender', t.source_id, t.period, t.country_iso3, t.contact_type, t.channel,
           t.reason, t.age_band, t.gender, t.contacts, SUM(p.contacts), COUNT(*)
    FROM cells t
    JOIN cells p ON p.source_id = t.source_id AND p.period = t.period AND p.country_iso3 = t.country_iso3
                AND p.age_band = t.age_band AND p.contact_type = t.contact_type AND p.channel = t.channel
                AND p.reason = t.reason AND p.gender <> 'all'
    WHERE t.gender = 'all'
    GROUP BY t.source_id, t.period, t.country_iso3, t.contact_type, t.channel, t.reason, t.age_band, t.gender,
             t.contacts
)
SELECT source_id || ' ' || period || ' ' || country_iso3 || ' contact_type=' || contact_type
       || ' channel=' || channel || ' reason=' || reason || ' age_band=' || age_band || ' gender=' || gender
       || ', by ' || breakdown AS subject,
       source_id AS source, period, country_iso3 AS country, contact_type, channel, reason, age_band, gender,
       breakdown, total_contacts, breakdown_sum,
       breakdown_sum - total_contacts AS difference,
       CASE WHEN total_contacts <> 0
            THEN CAST(breakdown_sum - total_contacts AS DOUBLE PRECISION) / total_contacts END AS relative_difference,
       breakdown_cells
FROM compared
WHERE ABS(breakdown_sum - total_contacts) > :helpline_total_tolerance * total_contacts
ORDER BY subject
