"""Members: profile beyond the login (birthday), member codes for the till, levels and growth."""
