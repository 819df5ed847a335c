-- The order in which sources are believed when two report the same observation: lowest precedence first
-- (config/sources.yaml), then by source id, so that the order is total. Rank 0 is believed first.
SELECT s.id AS source_id,
       (SELECT COUNT(*) FROM sources t
        WHERE t.precedence < s.precedence OR (t.precedence = s.precedence AND t.id < s.id)) AS source_rank
FROM sources s
