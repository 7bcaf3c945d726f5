-- 10: each subject's key for its personal data; deleting it forgets the subject.

CREATE TABLE {s}.es_personal_keys (
    subject    text   PRIMARY KEY,
    key        bytea  NOT NULL,
    created_us bigint NOT NULL
);
