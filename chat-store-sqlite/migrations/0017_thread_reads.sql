-- Who takes part in a thread (the sender of its root, those who replied,
-- those who opened it) and how far each has read it: a thread's unread
-- replies are those from others above the mark.
CREATE TABLE thread_reads (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    root_id    INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    read_up_to INTEGER NOT NULL,
    PRIMARY KEY (user_id, root_id)
) WITHOUT ROWID;
