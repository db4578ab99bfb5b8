"""The review process as pure Python: vocabularies, criteria engine, reads, consensus, audit.

No Qt and no SQL: the registry (in ``workbench``) stores what this package decides, and the
forms that show it live in ``adjudication.ui``. It never imports ``workbench`` or ``viewers``.
"""
