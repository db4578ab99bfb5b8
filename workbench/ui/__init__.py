"""The workbench's Qt main window: the case list, the case page and the data-entry forms.

Architecture:

- :mod:`workbench.ui.app` is the entry point (:func:`~workbench.ui.app.run`): it creates the
  ``QApplication``, opens the registry, resolves the acting user and shows the window (or
  renders it once to a PNG for ``--screenshot``).
- :mod:`workbench.ui.main_window` composes the window: menus, toolbar, status bar, the
  empty-registry page, and the split between the case list and the case page. It is the only
  widget that opens registry sessions; every other widget is handed plain values.
- :mod:`workbench.ui.case_list` shows :class:`~workbench.cases.CaseSummary` rows through a
  ``QAbstractTableModel`` that filters and sorts in memory (one query loads the list).
- :mod:`workbench.ui.case_detail` turns an ORM case into frozen plain values while its session
  is open (no Qt there), and :mod:`workbench.ui.case_page` shows them.
- :mod:`workbench.ui.dialogs` holds the new-case and lab-result forms; they build the validated
  domain values (:class:`~workbench.cases.NewCase`, :class:`~workbench.labs.LabEntry`) and hand
  them to a save callback, showing any :class:`~workbench.errors.RegistryError` inline.
  :mod:`workbench.ui.assign_dialog` is the form a coordinator assigns readers and panel with.
- :mod:`workbench.ui.theme` is the dark palette and the few style rules.

Errors from the registry are always shown to the user, in the form that caused them or in a
message box, and never crash the window.
"""
