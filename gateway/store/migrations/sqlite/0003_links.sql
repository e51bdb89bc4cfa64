-- Robots registered in another registry that are now in this one's jurisdiction:
-- a robot exported across a border keeps its code and home registry, and the
-- destination registry holds this link to it.
CREATE TABLE links (
    code TEXT PRIMARY KEY,
    home TEXT NOT NULL,
    since TEXT NOT NULL
);
