-- One observation, one count: the rows of {rows} (rows of counted batches of one fact table) from the source believed
-- first for their observation. An observation is what the group's schema declares identifies it across sources
-- ({key}); when several sources report it, only the rows of the one ranked first in source_ranks are kept (all of
-- its rows: one source may split an observation, e.g. by its own policy labels). One such view per fact table and
-- kind of batches: current_observed_<table>, approved_observed_<table>.
SELECT {columns}
FROM (
    SELECT f.*, r.source_rank AS pop_source_rank, MIN(r.source_rank) OVER (PARTITION BY {key}) AS pop_first_rank
    FROM {rows} f JOIN source_ranks r ON r.source_id = f.source_id
) f
WHERE f.pop_source_rank = f.pop_first_rank
