DROP TABLE stage_revisions;
DROP TABLE login_throttle;
DROP TABLE sessions;
DROP TABLE user_passwords;
