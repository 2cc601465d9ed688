-- Room on each page of tokens for its rows' newer versions: the gateway rewrites a token's row
-- whenever it records a use (last_used_at), and with room on the page the new version is a
-- heap-only tuple, which adds no entry to any of the table's indexes. Measured with `make
-- bench-scale`: on full pages, 7 of 10 usage updates added an entry to every index; with the
-- room, 1 in 100. Pages written from now on keep the room.
ALTER TABLE tokens SET (fillfactor = 85);
