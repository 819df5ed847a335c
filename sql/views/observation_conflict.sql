-- Two sources that report the same observation of {group} with different totals of {value}: the source believed first
-- (whose rows the observed views keep) and another one, with both numbers. observation_conflicts is the union of one
-- such query per declared value of every group with an observation; sql/discrepancies reads it.
SELECT p.stakeholder_group, p.observation, '{value}' AS measure, p.source_id AS believed_source,
       p.{value} AS believed_value, o.source_id AS other_source, o.{value} AS other_value
FROM {totals} p
JOIN {totals} o ON {same_key} AND o.source_rank > p.source_rank
WHERE NOT EXISTS (SELECT 1 FROM {totals} q WHERE {same_key_q} AND q.source_rank < p.source_rank)
  AND (p.{value} <> o.{value} OR (p.{value} IS NULL) <> (o.{value} IS NULL))
