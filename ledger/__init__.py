"""The displacement ledger's domain and application service.

Figure records (assessments, registrations, returns) are event-sourced aggregates;
amendments are new events on them, never edits. Nothing here prints or imports the CLI.
"""
