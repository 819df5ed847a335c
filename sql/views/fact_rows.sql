-- The rows of the fact table {table} whose batch is in {batches}, with that batch's source: one such view per fact
-- table and kind of batches (current_<table>, approved_<table>). f.* follows the table, but PostgreSQL expands it
-- when the view is made: pop.views makes every view again after a migration changes a table.
SELECT f.*, b.source_id FROM {table} f JOIN {batches} b ON b.batch_id = f.batch_id
