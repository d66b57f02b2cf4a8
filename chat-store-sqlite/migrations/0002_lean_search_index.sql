-- A leaner search index, about half the work per message written.
--
-- The folded text moves into `messages` (one row write instead of a row in
-- the index's own content table), and the trigram index keeps neither a
-- copy of the text, nor positions, nor column sizes: it only says which
-- rows contain every trigram of a term. Queries check each candidate with
-- `instr` on the folded text, so results stay exact.
ALTER TABLE messages ADD COLUMN body_folded TEXT NOT NULL DEFAULT '';
UPDATE messages
   SET body_folded = (SELECT s.body_folded FROM message_search s WHERE s.rowid = messages.id);
DROP TABLE message_search;
CREATE VIRTUAL TABLE message_search USING fts5 (
    body_folded,
    tokenize = 'trigram case_sensitive 1',
    content = '',
    detail = none,
    columnsize = 0
);
INSERT INTO message_search (rowid, body_folded) SELECT id, body_folded FROM messages;
