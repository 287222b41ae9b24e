"""Points: settings, accounts with FIFO lots and a ledger, earning (sign-up, orders, check-ins, staff), redeeming
at checkout, expiry."""
