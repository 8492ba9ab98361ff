"""navlend keepers: a liquidation bot and a NAV reporter on Silverback.

Pure decision logic and storage (``types``, ``config``, ``decide``,
``schedule``, ``index``) import nothing from the chain edges (``chain``,
``txmanager``, ``metrics``, ``bot``, ``nav_reporter``); the edges import
them. See ``keepers/README.md``.
"""
