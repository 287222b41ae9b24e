"""Stored-value wallet: recharge packages (pay X get Y), recharges online and at the till, principal and bonus
kept apart, wallet payments and their refunds, recharge refunds by head office."""
