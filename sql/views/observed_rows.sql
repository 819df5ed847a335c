-- One observation, one count: the rows of {rows} (rows of counted batches of one fact table) from the source believed
-- first for their observation. An observation is what the group's schema declares identifies it across sources
-- ({key}); when several sources report it, only the rows of the one ranked first in source_ranks are kept (all of
-- its rows: one source may split an observation, e.g. by its own policy labels). A row outside every scope two
-- sources share ({shared}) cannot be reported twice and passes as it is; only the others are ranked, so the cost
-- follows the overlap, not the table. One such view per fact table and kind of batches: current_observed_<table>,
-- approved_observed_<table>.
SELECT {columns}
FROM {rows} f
WHERE ({scope_1}, {scope_2}) NOT IN (SELECT scope_1, scope_2 FROM {shared})
UNION ALL
SELECT {columns}
FROM (
    SELECT f.*, r.source_rank AS pop_source_rank, MIN(r.source_rank) OVER (PARTITION BY {key}) AS pop_first_rank
    FROM {rows} f
    JOIN source_ranks r ON r.source_id = f.source_id
    WHERE ({scope_1}, {scope_2}) IN (SELECT scope_1, scope_2 FROM {shared})
) f
WHERE f.pop_source_rank = f.pop_first_rank
