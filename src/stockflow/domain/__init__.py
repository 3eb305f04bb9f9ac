"""Pure business rules: no database, web or validation-framework imports here."""
