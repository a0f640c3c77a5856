"""Business rules as plain functions, one module per feature.

The web layer (``app/``), the USSD menus (``menus/``) and the RQ jobs
(``workers/``) call these; nothing here knows HTTP or USSD.
"""
