"""Who may sign in and what they did: users, API tokens, browser sessions, the audit trail."""
