"""WeChat Pay: the provider interface the orders domain calls (``client``), the pure protocol rules
(``domain``), the sandbox provider of the local stage and tests (``sandbox``) and notification parsing for the
webhook (``webhook``). Nothing heavy is imported here: ``cryptography`` and ``urllib3`` load on first use."""
