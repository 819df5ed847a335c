-- id: survey_weights
-- title: Survey weights do not sum as declared
-- description: Per survey_id, the sum of the respondents' weights against the total the survey declares:
--   the value under declared_weight_totals in config/discrepancies.yaml, else the number of respondents
--   (weights normalised to the sample size). The runner puts the declared values in the temporary table
--   pop_declared (declared, item, value). Rows of current batches (loaded, not rejected).
-- compares: weight_sum (sum of weights) vs declared_total (declared, or the respondents);
--   difference = weight_sum - declared_total; relative_difference = difference / declared_total
-- tolerance: survey_weight_tolerance
-- default: 0.01
-- declared: declared_weight_totals
WITH weights AS (
    SELECT y.survey_id, COUNT(*) AS respondents, SUM(y.weight) AS weight_sum
    FROM current_observed_fact_youth_responses y
    GROUP BY y.survey_id
),
compared AS (
    SELECT w.survey_id, w.respondents, w.weight_sum,
           COALESCE(d.value, w.respondents) AS declared_total,
           CASE WHEN d.value IS NULL THEN 'respondents' ELSE 'config' END AS declared_from
    FROM weights w
    LEFT JOIN pop_declared d ON d.declared = 'declared_weight_totals' AND d.item = w.survey_id
)
SELECT survey_id AS subject, survey_id, respondents, weight_sum, declared_total, declared_from,
       weight_sum - declared_total AS difference,
       CASE WHEN declared_total <> 0 THEN (weight_sum - declared_total) / declared_total END AS relative_difference
FROM compared
WHERE ABS(weight_sum - declared_total) > :survey_weight_tolerance * ABS(declared_total)
ORDER BY subject
