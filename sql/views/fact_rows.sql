-- The rows of the fact table {table} whose batch is in {batches}, with that batch's source: one such view per fact
-- table and kind of batches (current_<table>, approved_<table>). f.* follows the table, but PostgreSQL expands it
-- when the view is made: a migration that changes the table makes the view again (pop.views).
SELECT f.*, b.source_id FROM {table} f JOIN {batches} b ON b.batch_id = f.batch_id
