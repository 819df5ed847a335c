-- Per observation of {rows} and per source that reports it: the totals of its values, the source's rank, and the
-- observation written out; only where two sources share a scope (current_shared_scopes), as elsewhere no observation
-- has two sources. Read by observation_conflicts, which compares the source believed first with every other.
SELECT '{group}' AS stakeholder_group, {subject} AS observation, {key}, f.source_id, r.source_rank, {sums}
FROM {rows} f JOIN source_ranks r ON r.source_id = f.source_id
WHERE ({scope_1}, {scope_2}) IN (SELECT scope_1, scope_2 FROM current_shared_scopes)
GROUP BY {key}, f.source_id, r.source_rank
