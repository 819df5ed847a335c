-- Per observation of {rows} and per source that reports it: the totals of its values, the source's rank, and the
-- observation written out. Read by observation_conflicts, which compares the source believed first with every other.
SELECT '{group}' AS stakeholder_group, {subject} AS observation, {key}, f.source_id, r.source_rank, {sums}
FROM {rows} f JOIN source_ranks r ON r.source_id = f.source_id
GROUP BY {key}, f.source_id, r.source_rank
