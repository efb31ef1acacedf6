-- Sign-out ends the session everywhere: every console session JWT carries the user's session
-- version from sign-in, and a session is refused once its version is behind. Signing out bumps it.
ALTER TABLE "console_user" ADD COLUMN "session_version" INTEGER NOT NULL DEFAULT 0;
