-- id: sources_disagree
-- title: Two sources report the same observation with different numbers
-- description: An observation (what the group's schema declares identifies one across sources: for tech metrics the
--   company, product, reporter, metric, period and country) that several sources report, one of its values
--   differing between them. The snapshot counts the observation once, from the source believed first (the lowest
--   precedence in config/sources.yaml, then the source id); the other source's number is here so that a steward
--   can find out which one is right. Totals per source over the rows of current batches (view
--   observation_conflicts).
-- compares: believed_value (the believed source's total) vs other_value (another source's);
--   difference = other_value - believed_value
-- tolerance: sources_tolerance
-- default: 0
SELECT stakeholder_group || ': ' || observation || ' (' || measure || ', ' || other_source || ')' AS subject,
       stakeholder_group, observation, measure, believed_source, believed_value, other_source, other_value,
       other_value - believed_value AS difference
FROM observation_conflicts
WHERE believed_value IS NULL OR other_value IS NULL
   OR ABS(other_value - believed_value) > :sources_tolerance * ABS(believed_value)
