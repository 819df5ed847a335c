-- Where two sources of one stakeholder group may report the same observation: the observation scopes (the first two
-- columns of the observation key, recorded per batch as it loads) that a batch of {batches} shares with a batch of
-- another source of the same group. The observed views compare rows there only. One per kind of batches:
-- current_shared_scopes, approved_shared_scopes.
SELECT DISTINCT s.batch_id, s.scope_1, s.scope_2
FROM observation_scopes s
JOIN {batches} b ON b.batch_id = s.batch_id
JOIN sources g ON g.id = b.source_id
JOIN observation_scopes o ON o.scope_1 = s.scope_1 AND o.scope_2 = s.scope_2 AND o.batch_id <> s.batch_id
JOIN {batches} ob ON ob.batch_id = o.batch_id AND ob.source_id <> b.source_id
JOIN sources og ON og.id = ob.source_id AND og.stakeholder_group = g.stakeholder_group
