"""One module per operation (start, cancel, export an organization, copy, watch-list edits).

Each flow is a small object the jobs screen owns and calls from its actions and message
handlers; service calls go through `calls.call_service`, which runs them in a thread worker and
posts the answer (or the error) back as a typed message.
"""
