-- The batches a steward (or the clean-batch rule) approved: the only ones snapshots and releases read.
SELECT b.* FROM batches b WHERE b.status = 'loaded' AND b.review_status = 'approved'
