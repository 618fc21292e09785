"""perpsim's venue around the matching engine: instruments, money, margin, funding, liquidation."""
