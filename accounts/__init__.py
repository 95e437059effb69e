"""Who may come in and how: mandatory MFA, sessions, lockout, access checks, service tokens."""
