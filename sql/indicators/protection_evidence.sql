-- id: protection_evidence
-- title: What the protection community has learned: evidence and good practice
-- description: Submissions from the wider protection community (UN agencies, NGOs, youth-led groups, academia,
--   governments, industry, helplines) by theme (the harm types they address), by type of intervention, by type
--   of evidence and by the audiences they speak to.
-- unit: count
-- numerator: submissions
-- denominator: —
-- dimensions: breakdown, category
-- values: submissions, with_consent
-- counts: none
-- disclosure: counts of evidence submissions (an organisation's study, evaluation, case study or testimony,
--   sent to be read), not of children nor of an organisation's figures about children; the children a
--   submission speaks of are in its text, which is scrubbed and published only with consent
-- groups: protection_community
-- caveats: Submissions are what partners chose to send, not a survey of the field. A submission can address
--   several themes and audiences, so those breakdowns add up to more than the number of submissions.
-- chart: bar category for each breakdown
SELECT f.source_id, COALESCE(c.code, 'WLD') AS country_iso3,
       COALESCE(SUBSTR(CAST(f.submitted_on AS VARCHAR(10)), 1, 4), 'unknown') AS period, f.batch_id, f.row_number,
       f.intervention_type, f.evidence_type, CASE WHEN f.consent THEN 1 ELSE 0 END AS consent
FROM approved_observed_fact_protection_submissions f
LEFT JOIN approved_fact_choices c ON c.batch_id = f.batch_id AND c.row_number = f.row_number
     AND c.field = 'countries';

WITH submissions AS (
    SELECT DISTINCT batch_id, row_number, intervention_type, evidence_type, consent FROM basis
),
themes AS (
    SELECT 'theme' AS breakdown, c.code AS category, b.consent
    FROM submissions b JOIN approved_fact_choices c ON c.batch_id = b.batch_id AND c.row_number = b.row_number
    AND c.field = 'harm_types'
),
audiences AS (
    SELECT 'audience' AS breakdown, c.code AS category, b.consent
    FROM submissions b JOIN approved_fact_choices c ON c.batch_id = b.batch_id AND c.row_number = b.row_number
    AND c.field = 'audiences'
),
rows_by_breakdown AS (
    SELECT breakdown, category, consent FROM themes
    UNION ALL SELECT breakdown, category, consent FROM audiences
    UNION ALL SELECT 'intervention_type', intervention_type, consent FROM submissions
    UNION ALL SELECT 'evidence_type', evidence_type, consent FROM submissions
)
SELECT breakdown, category, COUNT(*) AS submissions, SUM(consent) AS with_consent
FROM rows_by_breakdown
GROUP BY breakdown, category
