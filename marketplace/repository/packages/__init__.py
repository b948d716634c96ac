"""Package formats and their validation: pure Python, no Django, no database.

`problems` is the shared vocabulary: every check reports `Problem`s; a rejection raises
`PackageRejected` carrying them.
"""
