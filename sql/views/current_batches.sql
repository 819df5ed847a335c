-- The batches whose rows are the warehouse's current evidence: loaded, and not rejected by a steward (a batch
-- awaiting review counts). The warehouse checks and the cross-source comparisons read these.
SELECT b.* FROM batches b WHERE b.status = 'loaded' AND b.review_status <> 'rejected'
