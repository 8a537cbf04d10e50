"""The product's rules in pure Python: no framework, driver or I/O imports live here."""
