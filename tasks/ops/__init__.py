"""Operations: schema migrations, backups, the warehouse's status, the set-up's health, alerts on failed runs."""
